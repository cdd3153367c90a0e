package layer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
)

// Redacted returns the values with every secret replaced by "***": what may be printed,
// stored with a deployment, or sent to an API client.
func (r *Resolved) Redacted() map[string]any {
	out := make(map[string]any, len(r.Values))
	for k, v := range r.Values {
		if r.Secret[k] {
			v = Redaction
		}
		out[k] = v
	}
	return out
}

// Environ returns "KEY=value" for every key, sorted, for a step's process environment.
// Secrets are included: give the result to the step and nothing else.
func (r *Resolved) Environ() []string {
	out := make([]string, 0, len(r.Keys))
	var b strings.Builder
	for _, k := range r.Keys {
		b.Reset()
		b.WriteString(k)
		b.WriteByte('=')
		writeValue(&b, r.Values[k])
		out = append(out, b.String())
	}
	return out
}

// JSON returns the full resolved config, secrets included, as one JSON object with sorted
// keys: the content of the file $STRATA_CONFIG names.
func (r *Resolved) JSON() ([]byte, error) {
	b, err := json.Marshal(r.Values)
	if err != nil {
		return nil, fmt.Errorf("config of %s in %s as JSON: %w", r.Service, r.Environment, err)
	}
	return b, nil
}

// Hash returns a hex sha256 over every key and its full value (secrets included), in key
// order, with the value's type: two configurations hash alike exactly when they are equal.
func (r *Resolved) Hash() string {
	h := sha256.New()
	var buf []byte
	for _, k := range r.Keys {
		buf = buf[:0]
		buf = strconv.AppendQuote(buf, k)
		buf = append(buf, '=')
		switch v := r.Values[k].(type) {
		case string:
			buf = append(buf, 's')
			buf = strconv.AppendQuote(buf, v)
		case int64:
			buf = append(buf, 'i')
			buf = strconv.AppendInt(buf, v, 10)
		case float64:
			buf = append(buf, 'f')
			buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
		case bool:
			buf = append(buf, 'b')
			buf = strconv.AppendBool(buf, v)
		default:
			buf = append(buf, '?')
			buf = append(buf, format(v)...)
		}
		buf = append(buf, '\n')
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Source says where key's value came from, for people: "file:line:col", or for a secret
// "secrets of environment prod-eu". It is "" for a key without a value.
func (r *Resolved) Source(key string) string {
	t := r.Trail[key]
	if len(t) == 0 {
		return ""
	}
	if t[len(t)-1].Name == LayerSecret {
		return "secrets of environment " + r.Environment
	}
	if pos := r.Sources[key]; !pos.IsZero() {
		return pos.String()
	}
	return t[len(t)-1].Name
}

// Expand interpolates text (a health or observe URL, what a health answer must contain)
// against r, the resolved config of a service in an environment of p, and the runtime r was
// resolved with (its release version, its dependencies' outputs); pos is where text was
// written, for errors. For r resolved at config time, ${release.version} and ${outputs...}
// are left as written. A bad reference is an EINVALID *strata.Error naming pos.
func Expand(p *strata.Project, r *Resolved, text string, pos strata.Pos) (string, error) {
	if strings.IndexByte(text, '$') < 0 {
		return text, nil
	}
	c, err := expandCtx(p, r, text, pos)
	if err != nil {
		return "", err
	}
	rv, _, ok := c.expand(text, pos, label{})
	if !ok {
		return "", render(c.probs).Err()
	}
	return rv.text(), nil
}

// expandCtx prepares the interpolation of text against r, with the runtime r was resolved
// with.
func expandCtx(p *strata.Project, r *Resolved, text string, pos strata.Pos) (*ctx, error) {
	if p == nil || r == nil {
		return nil, strata.Errorf(strata.EINVALID, "%s: expand %q: no project or resolved config", pos, text)
	}
	s, e, err := lookup(p, r.Service, r.Environment)
	if err != nil {
		return nil, err
	}
	return &ctx{
		p:   p,
		sv:  &svcView{svc: s},
		ev:  &envView{env: e, labels: labelsOf(p, e)},
		rt:  r.rt,
		res: r,
	}, nil
}

// ExpandRelease interpolates text that runs once per release, in no environment (a build
// step): ${service.name} and ${release.version} have values there, and nothing else does.
// With a nil rt, ${release.version} is left as written.
func ExpandRelease(p *strata.Project, service, text string, pos strata.Pos, rt *Runtime) (string, error) {
	if strings.IndexByte(text, '$') < 0 {
		return text, nil
	}
	c, err := releaseCtx(p, service, text, pos, rt)
	if err != nil {
		return "", err
	}
	rv, _, ok := c.expand(text, pos, label{})
	if !ok {
		return "", render(c.probs).Err()
	}
	return rv.text(), nil
}

// releaseCtx prepares the interpolation of text in no environment.
func releaseCtx(p *strata.Project, service, text string, pos strata.Pos, rt *Runtime) (*ctx, error) {
	if p == nil {
		return nil, strata.Errorf(strata.EINVALID, "%s: expand %q: no project", pos, text)
	}
	s := p.Service(service)
	if s == nil {
		return nil, strata.Errorf(strata.ENOTFOUND, "unknown service %q%s", service, knownNames(service, p.ServiceNames()))
	}
	return &ctx{p: p, sv: &svcView{svc: s}, rt: rt}, nil
}

// labelsOf returns e's labels resolved through extends (the config package resolves them;
// a project built by hand may not have).
func labelsOf(p *strata.Project, e *strata.Environment) map[string]string {
	if e.Labels != nil {
		return e.Labels
	}
	out := map[string]string{}
	for _, c := range chainOf(p, e) {
		for k, v := range c.OwnLabels {
			out[k] = v
		}
	}
	return out
}
