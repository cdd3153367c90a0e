package config

import (
	"net/url"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"go.yaml.in/yaml/v3"
)

var (
	serviceKeys = []string{"build", "deploy", "destroy", "observe", "health", "rollback", "depends_on", "config", "overrides", "bundle", "runbooks"}
	stepKeys    = []string{"run", "timeout"}
	observeKeys = []string{"run", "http", "timeout"}
	healthKeys  = []string{"http", "contains", "status", "command", "timeout", "interval"}
	schemaKeys  = []string{"type", "default", "enum", "secret", "from", "description"}
	keyTypes    = []string{strata.TypeString, strata.TypeInteger, strata.TypeNumber, strata.TypeBoolean}
	rollbacks   = []string{"previous", "none"}
)

// Health check defaults, when the file does not say.
const (
	DefaultHealthTimeout  = 30 * time.Second
	DefaultHealthInterval = time.Second
)

func (l *loader) decodeServices(src *source, n *yaml.Node) {
	pairs, _ := l.mapping(src, n, "services", "services: {api: {deploy: ./deploy/api.sh}}")
	for _, p := range pairs {
		at := src.pos(p.k)
		if msg := badName("service", p.key, "api"); msg != "" {
			l.errorf(at, "%s", msg)
		}
		if prev, dup := l.svcs[p.key]; dup {
			l.errorf(at, "service %q is defined twice: here and at %s; rename or remove one", p.key, prev.Pos)
			continue
		}
		svc := &strata.Service{Name: p.key, Pos: at, Overrides: map[string]map[string]strata.Value{}, OverridePos: map[string]strata.Pos{}}
		l.svcs[p.key] = svc
		l.p.Services = append(l.p.Services, svc)
		l.decodeService(src, svc, p.v)
	}
}

func (l *loader) decodeService(src *source, svc *strata.Service, n *yaml.Node) {
	where := "service " + quote(svc.Name)
	l.owner = svc.Name
	defer func() { l.owner = "" }()
	pairs, ok := l.mapping(src, n, where, "{deploy: ./deploy/api.sh}")
	for _, p := range pairs {
		switch p.key {
		case "build":
			from := len(l.strs)
			svc.Build = l.decodeStep(src, p, where, false)
			for i := from; i < len(l.strs); i++ {
				l.strs[i].build = true
			}
		case "deploy":
			svc.Deploy = l.decodeStep(src, p, where, false)
		case "destroy":
			svc.Destroy = l.decodeStep(src, p, where, false)
		case "observe":
			svc.Observe = l.decodeStep(src, p, where, true)
		case "health":
			svc.Health = l.decodeHealth(src, p, where)
		case "rollback":
			if s, ok := l.scalar(src, p.v, "rollback", "rollback: previous"); ok {
				if s != "previous" && s != "none" {
					l.errorf(src.pos(p.v), "rollback %q is not a rollback policy%s; use previous (redeploy the last good release) or none", s, didYouMean(s, rollbacks))
					continue
				}
				svc.Rollback = s
			}
		case "depends_on":
			l.decodeDependsOn(src, svc, p.v)
		case "bundle":
			l.decodeBundle(src, svc, p.v)
		case "runbooks":
			l.decodeRunbooks(src, svc, p.v, where)
		case "config":
			l.decodeSchema(src, svc, p.v, "config schema of "+where)
		case "overrides":
			opairs, _ := l.mapping(src, p.v, "overrides of "+where, "{prod-eu: {PORT: 9090}}")
			for _, op := range opairs {
				svc.OverridePos[op.key] = src.pos(op.k)
				svc.Overrides[op.key] = l.decodeConfig(src, op.v, "overrides of "+where+" for "+quote(op.key))
			}
		default:
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, serviceKeys))
		}
	}
	if ok && svc.Deploy == nil {
		l.errorf(svc.Pos, "service %q has no deploy step; add e.g. deploy: ./deploy/%s.sh", svc.Name, svc.Name)
	}
	if svc.Rollback == "" {
		svc.Rollback = "none"
		if svc.Health != nil {
			svc.Rollback = "previous"
		}
	}
}

// decodeStep reads a step: a command, or {run: CMD, timeout: D}; observe may fetch
// {http: URL} instead.
func (l *loader) decodeStep(src *source, p pair, where string, observe bool) *strata.Step {
	kind := p.key
	st := &strata.Step{Pos: src.pos(p.k)}
	v := l.deref(src, p.v)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		st.Run = v.Value
		l.addInterp(interp{s: st.Run, at: src.pos(v), what: kind})
		return st
	}
	example := "{run: ./deploy.sh, timeout: 10m}"
	known := stepKeys
	if observe {
		example = "{http: \"http://127.0.0.1:8080/version\"}"
		known = observeKeys
	}
	if v.Kind != yaml.MappingNode {
		l.errorf(src.pos(v), "%s of %s should be a command or a mapping, found %s; write e.g. %s: ./%s.sh or %s", kind, where, kindName(v), kind, kind, example)
		return nil
	}
	pairs, _ := l.mapping(src, v, kind+" of "+where, example)
	for _, sp := range pairs {
		switch {
		case sp.key == "run":
			if s, ok := l.scalar(src, sp.v, "run", "run: ./deploy.sh"); ok {
				st.Run = s
				l.addInterp(interp{s: s, at: src.pos(l.deref(src, sp.v)), what: kind})
			}
		case sp.key == "http" && observe:
			if s, ok := l.scalar(src, sp.v, "http", "http: http://127.0.0.1:8080/version"); ok {
				st.HTTP = s
				l.checkURL(src, sp.v, s, "http")
			}
		case sp.key == "timeout":
			st.Timeout, _ = l.duration(src, sp.v, "timeout", "10m")
		default:
			l.errorf(src.pos(sp.k), "%s", unknownKey(sp.key, kind+" of "+where, known))
		}
	}
	switch {
	case st.Run == "" && st.HTTP == "":
		if observe {
			l.errorf(src.pos(v), "%s of %s has neither run nor http; write e.g. %s", kind, where, example)
		} else {
			l.errorf(src.pos(v), "%s of %s has no command; write e.g. %s", kind, where, example)
		}
		return nil
	case st.Run != "" && st.HTTP != "":
		l.errorf(src.pos(v), "%s of %s has both run and http; keep one", kind, where)
	}
	return st
}

func (l *loader) decodeHealth(src *source, p pair, where string) *strata.Health {
	h := &strata.Health{Timeout: DefaultHealthTimeout, Interval: DefaultHealthInterval, Pos: src.pos(p.k)}
	example := `{http: "http://127.0.0.1:8080/healthz"} or {command: "./check.sh"}`
	pairs, ok := l.mapping(src, p.v, "health of "+where, example)
	if !ok {
		return nil
	}
	for _, hp := range pairs {
		switch hp.key {
		case "http":
			if s, ok := l.scalar(src, hp.v, "http", "http: http://127.0.0.1:8080/healthz"); ok {
				h.HTTP = s
				l.checkURL(src, hp.v, s, "health http")
			}
		case "command":
			if s, ok := l.scalar(src, hp.v, "command", "command: ./check.sh"); ok {
				h.Command = s
				l.addInterp(interp{s: s, at: src.pos(l.deref(src, hp.v)), what: "health command"})
			}
		case "contains":
			if s, ok := l.scalar(src, hp.v, "contains", `contains: "v${release.version}"`); ok {
				at := src.pos(l.deref(src, hp.v))
				if s == "" {
					l.errorf(at, "health contains of %s is empty, which every answer contains; remove it or write e.g. contains: \"v${release.version}\"", where)
				}
				h.Contains, h.ContainsPos = s, at
				l.addInterp(interp{s: s, at: at, what: "health contains"})
			}
		case "status":
			if n, ok := l.integer(src, hp.v, "status", "status: 200"); ok {
				if n < 100 || n > 599 {
					l.errorf(src.pos(l.deref(src, hp.v)), "health status of %s is %d, which is no HTTP status; write e.g. status: 200", where, n)
				} else {
					h.Status = int(n)
				}
			}
		case "timeout":
			if d, ok := l.duration(src, hp.v, "timeout", "30s"); ok {
				h.Timeout = d
			}
		case "interval":
			if d, ok := l.duration(src, hp.v, "interval", "1s"); ok {
				h.Interval = d
			}
		default:
			l.errorf(src.pos(hp.k), "%s", unknownKey(hp.key, "health of "+where, healthKeys))
		}
	}
	switch {
	case h.HTTP == "" && h.Command == "":
		l.errorf(h.Pos, "health of %s has neither http nor command; write e.g. %s", where, example)
		return nil
	case h.HTTP != "" && h.Command != "":
		l.errorf(h.Pos, "health of %s has both http and command; keep one", where)
	}
	if h.Command != "" && (h.Contains != "" || h.Status != 0) {
		l.errorf(h.Pos, "health of %s has a command with contains or status, which only an http check reads; a command says healthy by exiting 0", where)
	}
	if h.Interval == 0 {
		l.errorf(h.Pos, "health interval of %s is zero; write e.g. interval: 1s", where)
	}
	return h
}

// checkURL checks the shape of a URL; one that interpolates is checked for ${...} only.
func (l *loader) checkURL(src *source, n *yaml.Node, s, what string) {
	at := src.pos(l.deref(src, n))
	l.addInterp(interp{s: s, at: at, what: what})
	if strings.Contains(s, "${") {
		return
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.errorf(at, "%s %q is not an http(s) URL; write e.g. http://127.0.0.1:8080/healthz", what, s)
	}
}

func (l *loader) decodeDependsOn(src *source, svc *strata.Service, n *yaml.Node) {
	n = l.deref(src, n)
	if n == nil {
		return
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	} else if isNull(n) {
		return
	}
	seen := map[string]strata.Pos{}
	for _, it := range items {
		s, ok := l.scalar(src, it, "depends_on", "depends_on: [migrations]")
		if !ok {
			continue
		}
		at := src.pos(l.deref(src, it))
		if prev, dup := seen[s]; dup {
			l.errorf(at, "depends_on names %q twice (first at %s); remove one", s, prev)
			continue
		}
		seen[s] = at
		svc.DependsOn = append(svc.DependsOn, s)
		svc.DependsOnPos = append(svc.DependsOnPos, at)
	}
}
