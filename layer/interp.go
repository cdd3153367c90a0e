package layer

import (
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
)

// flagSecret marks an interpolated value built from a secret; stUnknown marks one that waits
// for deploy time.
const flagSecret uint8 = 16

// MaxValueSize bounds a resolved value, in bytes. Interpolation can double a value with every
// key that refers to another twice, so forty keys in a hostile file would ask for terabytes;
// the bound stops that at the first key past it. It is also what a process environment
// carries without complaint (Linux refuses one variable over 128 KiB).
const MaxValueSize = 64 << 10

const refHelp = "references are ${env.name}, ${env.labels.KEY}, ${service.name}, " +
	"${release.version}, ${config.KEY} and ${outputs.SERVICE.KEY}; write $${ for a literal ${"

// expand interpolates s, written at pos; what names the value in messages.
// A string that is exactly one ${config.KEY} takes KEY's value and type. It returns false
// when s cannot be resolved; the problem is recorded unless a referenced key already
// reported its own.
func (c *ctx) expand(s string, pos strata.Pos, what label) (refValue, uint8, bool) {
	var b strings.Builder
	var flags uint8
	ok := true
	last, i := 0, 0
	for {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			break
		}
		j += i
		if strings.HasPrefix(s[j:], "$${") {
			if b.Cap() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:j])
			b.WriteString("${")
			i = j + 3
			last = i
			continue
		}
		if !strings.HasPrefix(s[j:], "${") {
			i = j + 1
			continue
		}
		end := strings.IndexByte(s[j+2:], '}')
		if end < 0 {
			c.fail(pos, "", prefix(what), "${ without a closing } in ", strconv.Quote(s), "; ", refHelp)
			return refValue{s: s}, 0, false
		}
		ref := s[j+2 : j+2+end]
		rv, fl, rok := c.ref(strings.TrimSpace(ref), pos, what)
		flags |= fl
		if !rok {
			ok = false
		} else if j == 0 && j+3+end == len(s) {
			return rv, flags, true
		}
		if b.Cap() == 0 {
			b.Grow(len(s) + 16)
		}
		if rok && b.Len()+(j-last)+rv.size() > MaxValueSize {
			c.tooLong(pos, what)
			return refValue{s: s}, flags, false
		}
		b.WriteString(s[last:j])
		if rok && rv.v != nil {
			writeValue(&b, rv.v)
		} else if rok {
			b.WriteString(rv.s)
		}
		i = j + 3 + end
		last = i
	}
	if !ok {
		return refValue{s: s}, flags, false
	}
	if b.Cap() == 0 {
		return refValue{s: s}, flags, true
	}
	if b.Len()+len(s)-last > MaxValueSize {
		c.tooLong(pos, what)
		return refValue{s: s}, flags, false
	}
	b.WriteString(s[last:])
	return refValue{s: b.String()}, flags, true
}

// tooLong records that what, written at pos, resolves to more than MaxValueSize bytes.
func (c *ctx) tooLong(pos strata.Pos, what label) {
	c.fail(pos, "", prefix(what), "the value would be longer than ", strconv.Itoa(MaxValueSize>>10),
		" KiB once interpolated (", strconv.Itoa(MaxValueSize), " bytes is the most a value may have); ",
		"shorten it, or refer to fewer or smaller values")
}

// size is the length of what rv stands for as text, or an upper bound for a number.
func (rv refValue) size() int {
	switch x := rv.v.(type) {
	case nil:
		return len(rv.s)
	case string:
		return len(x)
	}
	return 32
}

// label names the interpolated text in messages: kind "config" and name "PORT" read
// "config PORT: ", kind "health.http" alone reads "health.http: ". It is built only when a
// message is, which keeps the hot path free of string concatenation.
type label struct{ kind, name string }

func prefix(what label) string {
	switch {
	case what.kind == "":
		return ""
	case what.name == "":
		return what.kind + ": "
	}
	return what.kind + " " + what.name + ": "
}

// refValue is what a reference stands for: text, or (from ${config.KEY}) a typed value.
// Keeping text out of an interface spares an allocation per reference.
type refValue struct {
	s string
	v any
}

// ref resolves one reference (the text between ${ and }).
func (c *ctx) ref(ref string, pos strata.Pos, what label) (refValue, uint8, bool) {
	ns, rest, _ := strings.Cut(ref, ".")
	if c.ev == nil && (ns == "env" || ns == "config" || ns == "outputs") {
		c.fail(pos, "", prefix(what), "${", ref, "}: this runs once per release, in no environment, so only ",
			"${service.name} and ${release.version} have values here")
		return refValue{}, 0, false
	}
	switch {
	case ref == "env.name":
		return refValue{s: c.ev.env.Name}, 0, true
	case ref == "service.name":
		return refValue{s: c.sv.svc.Name}, 0, true
	case ref == "release.version":
		if c.rt == nil {
			return refValue{s: "${" + ref + "}"}, stUnknown, true
		}
		return refValue{s: c.rt.Version}, 0, true
	case ns == "env" && strings.HasPrefix(rest, "labels.") && len(rest) > len("labels."):
		name := rest[len("labels."):]
		if v, ok := c.ev.labels[name]; ok {
			return refValue{s: v}, 0, true
		}
		c.fail(pos, c.ev.env.Name, prefix(what), "${", ref, "}: the environment has no label ",
			strconv.Quote(name), suggest(name, mapKeys(c.ev.labels)))
		return refValue{}, 0, false
	case ns == "config" && rest != "":
		return c.configRef(rest, pos, what)
	case ns == "outputs":
		return c.outputRef(ref, rest, pos, what)
	}
	c.fail(pos, "", prefix(what), "unknown reference ${", ref, "}; ", refHelp)
	return refValue{}, 0, false
}

// configRef resolves ${config.KEY}: the final value of another key of the same service in
// the same environment.
func (c *ctx) configRef(key string, pos strata.Pos, what label) (refValue, uint8, bool) {
	keys := c.keys
	if c.res != nil {
		keys = c.res.Keys
	}
	i, found := slices.BinarySearch(keys, key)
	if !found {
		c.fail(pos, c.ev.env.Name, prefix(what), "${config.", key, "}: service ", c.sv.svc.Name,
			" has no config key ", strconv.Quote(key), suggest(key, keys))
		return refValue{}, 0, false
	}
	if c.res != nil {
		var flags uint8
		if c.res.Secret[key] {
			flags = flagSecret
		}
		return refValue{v: c.res.Values[key]}, flags, true
	}
	switch st := c.finish(i); {
	case st == stActive:
		start := slices.Index(c.stack, key)
		path := strings.Join(c.stack[start:], " -> ") + " -> " + key
		c.fail(c.items[i].pos, "", "config cycle: ", path, "; break it by giving one of these keys a plain value")
		return refValue{}, 0, false
	case st == stFailed:
		return refValue{}, 0, false
	default:
		it := &c.items[i]
		flags := st & stUnknown
		if it.secret {
			flags |= flagSecret
		}
		return refValue{v: it.v}, flags, true
	}
}

// outputRef resolves ${outputs.SERVICE.KEY}: what SERVICE's deploy step wrote.
func (c *ctx) outputRef(ref, rest string, pos strata.Pos, what label) (refValue, uint8, bool) {
	svc, key, ok := strings.Cut(rest, ".")
	if !ok || svc == "" || key == "" {
		c.fail(pos, "", prefix(what), "${", ref, "}: want ${outputs.SERVICE.KEY}")
		return refValue{}, 0, false
	}
	if c.p.Service(svc) == nil {
		c.fail(pos, "", prefix(what), "${", ref, "}: unknown service ", strconv.Quote(svc),
			suggest(svc, c.p.ServiceNames()))
		return refValue{}, 0, false
	}
	if c.rt == nil {
		return refValue{s: "${" + ref + "}"}, stUnknown, true
	}
	outs, deployed := c.rt.Outputs[svc]
	if !deployed {
		c.fail(pos, "", prefix(what), "${", ref, "}: ", c.notDeployed(svc))
		return refValue{}, 0, false
	}
	v, ok := outs[key]
	if !ok {
		c.fail(pos, c.ev.env.Name, prefix(what), "${", ref, "}: service ", svc,
			" wrote no output ", strconv.Quote(key), " (its deploy step appends KEY=value lines to $STRATA_OUTPUTS)")
		return refValue{}, 0, false
	}
	return refValue{s: v}, 0, true
}

// notDeployed says why dependency svc has no outputs to read in the environment, and what
// to do.
func (c *ctx) notDeployed(svc string) string {
	self, env := c.sv.svc.Name, c.ev.env.Name
	switch {
	case svc == self:
		return self + " cannot read its own outputs: its deploy step writes them for its dependents; refer to a dependency's"
	case !slices.Contains(c.sv.svc.DependsOn, svc):
		return svc + " is not in the depends_on of " + self + ", whose steps read the outputs of its dependencies only; add " +
			svc + " to services." + self + ".depends_on, so that it deploys to " + env + " first"
	}
	return svc + " has not been deployed to " + env + " yet, so it has written no outputs there; deploy " + svc +
		" to " + env + " first (`strata deploy " + svc + " --env " + env + "`)"
}

// writeValue formats v as it appears inside a longer string and in a step's environment.
func writeValue(b *strings.Builder, v any) {
	var buf [32]byte
	switch x := v.(type) {
	case string:
		b.WriteString(x)
	case int64:
		b.Write(strconv.AppendInt(buf[:0], x, 10))
	case float64:
		b.Write(strconv.AppendFloat(buf[:0], x, 'f', -1, 64))
	case bool:
		b.Write(strconv.AppendBool(buf[:0], x))
	case int:
		b.Write(strconv.AppendInt(buf[:0], int64(x), 10))
	}
}

// text returns what rv stands for as text.
func (rv refValue) text() string {
	if rv.v != nil {
		return format(rv.v)
	}
	return rv.s
}

// format returns v as text (see writeValue).
func format(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
