package config

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/suggest"
	"go.yaml.in/yaml/v3"
)

var (
	topKeys     = []string{"project", "include", "defaults", "environments", "groups", "services", "pipeline", "notify", "flags"}
	includeKeys = []string{"include", "defaults", "environments", "groups", "services", "pipeline", "notify", "flags"}
	envKeys     = []string{"labels", "config", "policy", "extends", "secrets", "runs_on", "flags"}
	policyKeys  = []string{"approvals", "windows", "soak", "flag_approvals"}
	notifyKeys  = []string{"url", "events"}
)

var labelKeyRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_./-]*[A-Za-z0-9])?$`)

// decodeTop reads a file's top-level keys in the order they are written.
func (l *loader) decodeTop(src *source, root *yaml.Node, stack []string) {
	if root == nil {
		return
	}
	where := "the top level of " + src.name
	known := topKeys
	if !src.top {
		known = includeKeys
	}
	// A file that is not a Strata file (a password file, a README) must not be printed back
	// in the error: say what it is not, never what it holds.
	if r := l.deref(src, root); r != nil && r.Kind != yaml.MappingNode && !isNull(r) {
		what := "a single value"
		if r.Kind == yaml.SequenceNode {
			what = "a list"
		}
		l.errorf(src.pos(nil), "%s is not a Strata configuration file: its top level should be keys such as %s, found %s",
			src.name, strings.Join(known, ", "), what)
		return
	}
	pairs, ok := l.mapping(src, root, "the file", "project: shop")
	if !ok {
		return
	}
	if !src.top && len(pairs) > 0 && !slices.ContainsFunc(pairs, func(p pair) bool { return slices.Contains(topKeys, p.key) }) {
		l.errorf(src.pos(nil), "included file %s is not a Strata configuration file: none of its %d top-level keys is one of %s; include only Strata files",
			src.name, len(pairs), strings.Join(known, ", "))
		return
	}
	for _, p := range pairs {
		switch p.key {
		case "project":
			if !src.top {
				l.errorf(src.pos(p.k), "project is named in %s only; remove it from this included file", l.p.File)
				continue
			}
			l.sawProject = true
			if name, ok := l.scalar(src, p.v, "project", "project: shop"); ok {
				l.p.Name = name
				if name == "" {
					l.errorf(src.pos(p.k), "the project name is empty; write e.g. project: shop")
				} else if err := strata.CheckLine("project", name); err != nil {
					l.errorf(src.pos(p.v), "%v", err)
				} else if name == "." || name == ".." || strings.ContainsAny(name, `/\`) || len(name) > 100 {
					// The name is a directory of every key store (KEYS/PROJECT/ENV.key).
					l.errorf(src.pos(p.v), "project name %s cannot name a directory of keys: no '/' or '\\', not . or .., at most 100 bytes; write e.g. project: shop", quoteShort(name))
				}
			}
		case "include":
			l.decodeInclude(src, p.v, stack)
		case "defaults":
			l.decodeDefaults(src, p.v)
		case "environments":
			l.decodeEnvironments(src, p.v)
		case "groups":
			l.decodeGroups(src, p.v)
		case "services":
			l.decodeServices(src, p.v)
		case "pipeline":
			l.decodePipeline(src, p.v)
		case "notify":
			l.decodeNotify(src, p.v)
		case "flags":
			l.decodeFlags(src, p.v)
		default:
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, known))
		}
	}
}

func (l *loader) decodeInclude(src *source, n *yaml.Node, stack []string) {
	n = l.deref(src, n)
	if n == nil {
		return
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, it := range items {
		if s, ok := l.scalar(src, it, "an include", `include: ["envs/*.yaml", services.yaml]`); ok {
			l.include(src, s, src.pos(it), stack)
		}
	}
}

func (l *loader) decodeDefaults(src *source, n *yaml.Node) {
	pairs, _ := l.mapping(src, n, "defaults", "defaults: {config: {LOG_LEVEL: info}}")
	for _, p := range pairs {
		if p.key != "config" {
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, "defaults", []string{"config"}))
			continue
		}
		for k, v := range l.decodeConfig(src, p.v, "defaults.config") {
			if prev, dup := l.p.Defaults[k]; dup {
				l.errorf(v.Pos, "defaults.config sets %s twice: here and at %s; remove one", k, prev.Pos)
				continue
			}
			l.p.Defaults[k] = v
		}
	}
}

// reservedKeyPrefix begins the variables Strata gives every step (STRATA_ENV,
// STRATA_DEPLOYMENT, STRATA_I_1 ...): a config key of that name would be silently replaced
// by Strata's own, so none may begin with it.
const reservedKeyPrefix = "STRATA_"

// configKey reports whether key can name a config value, saying at at why not: each key
// becomes an environment variable of the steps.
func (l *loader) configKey(at strata.Pos, key, where string) bool {
	switch {
	case !keyRE.MatchString(key):
		l.errorf(at, "config key %q in %s is not a valid name; config keys become environment variables: letters, digits and '_', not starting with a digit (e.g. LOG_LEVEL)", key, where)
		return false
	case strings.HasPrefix(key, reservedKeyPrefix):
		l.errorf(at, "config key %q in %s begins with %s, which Strata's own step variables use ($STRATA_ENV, $STRATA_DEPLOYMENT ...); rename it (e.g. APP_%s)", key, where, reservedKeyPrefix, key[len(reservedKeyPrefix):])
		return false
	}
	return true
}

// decodeConfig reads a mapping of config keys to scalar values.
func (l *loader) decodeConfig(src *source, n *yaml.Node, where string) map[string]strata.Value {
	out := map[string]strata.Value{}
	pairs, _ := l.mapping(src, n, where, "{LOG_LEVEL: info, PORT: 8080}")
	for _, p := range pairs {
		if !l.configKey(src.pos(p.k), p.key, where) {
			continue
		}
		v, ok := l.value(src, p.v, p.key)
		if !ok {
			continue
		}
		if s, isStr := v.V.(string); isStr {
			l.addInterp(interp{s: s, at: v.Pos, what: p.key})
		}
		out[p.key] = v
	}
	return out
}

func (l *loader) decodeEnvironments(src *source, n *yaml.Node) {
	pairs, _ := l.mapping(src, n, "environments", "environments: {dev: {labels: {tier: dev}}}")
	for _, p := range pairs {
		at := src.pos(p.k)
		if msg := badName("environment", p.key, "prod-eu"); msg != "" {
			l.errorf(at, "%s", msg)
		}
		if prev, dup := l.envs[p.key]; dup {
			l.errorf(at, "environment %q is defined twice: here and at %s; rename or remove one", p.key, prev.Pos)
			continue
		}
		env := &strata.Environment{Name: p.key, Pos: at, OwnLabels: map[string]string{}, Config: map[string]strata.Value{}}
		l.envs[p.key] = env
		l.p.Environments = append(l.p.Environments, env)
		l.decodeEnvironment(src, env, p.v)
	}
}

func (l *loader) decodeEnvironment(src *source, env *strata.Environment, n *yaml.Node) {
	where := "environment " + quote(env.Name)
	pairs, _ := l.mapping(src, n, where, "{labels: {tier: prod}, extends: prod-us}")
	for _, p := range pairs {
		switch p.key {
		case "labels":
			env.OwnLabels, l.labelPos[env] = l.decodeLabels(src, p.v, "labels of "+where)
		case "config":
			env.Config = l.decodeConfig(src, p.v, "config of "+where)
		case "policy":
			env.OwnPolicy = l.decodePolicy(src, p.k, p.v, "policy of "+where)
		case "extends":
			if s, ok := l.scalar(src, p.v, "extends", "extends: prod-us"); ok {
				env.Extends = s
				env.ExtendsPos = src.pos(l.deref(src, p.v))
			}
		case "runs_on":
			if s, ok := l.scalar(src, p.v, "runs_on", "runs_on: eu-agents"); ok {
				at := src.pos(l.deref(src, p.v))
				if msg := badName("pool", s, "eu-agents"); msg != "" {
					l.errorf(at, "runs_on of %s: %s", where, msg)
					continue
				}
				env.OwnRunsOn, env.RunsOnPos = s, at
			}
		case "flags":
			l.decodeEnvFlags(src, env, p.v)
		case "secrets":
			env.OwnSecrets = l.decodeSecretSources(src, p.v, "secrets of "+where)
		default:
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, envKeys))
		}
	}
}

func (l *loader) decodeLabels(src *source, n *yaml.Node, where string) (map[string]string, map[string]strata.Pos) {
	out, at := map[string]string{}, map[string]strata.Pos{}
	pairs, _ := l.mapping(src, n, where, "{tier: prod, region: eu-west}")
	for _, p := range pairs {
		kat := src.pos(p.k)
		switch {
		case p.key == "name":
			l.errorf(kat, "label \"name\" is reserved (selectors use it for the environment's name); choose another key")
			continue
		case !labelKeyRE.MatchString(p.key):
			l.errorf(kat, "label key %q is not valid; use letters, digits, '-', '_', '.' and '/' (e.g. region)", p.key)
			continue
		}
		name := "label " + p.key
		if v, ok := l.scalar(src, p.v, name, "region: eu-west"); ok {
			if err := strata.CheckLine(name, v); err != nil {
				l.errorf(src.pos(p.v), "%v", err)
				continue
			}
			out[p.key] = v
			at[p.key] = kat
		}
	}
	return out, at
}

func (l *loader) decodePolicy(src *source, k, n *yaml.Node, where string) strata.Policy {
	pol := strata.Policy{Pos: src.pos(k)}
	pairs, _ := l.mapping(src, n, where, "{approvals: 1, soak: 30m}")
	for _, p := range pairs {
		switch p.key {
		case "approvals":
			if i, ok := l.integer(src, p.v, "approvals", "approvals: 1"); ok {
				if i < 0 || i > 1000 {
					l.errorf(src.pos(p.v), "approvals is %d; it must be a whole number from 0 (none needed) up, e.g. approvals: 1", i)
					continue
				}
				n := int(i)
				pol.Approvals = &n
			}
		case "windows":
			items, ok := l.sequence(src, p.v, "windows", `windows: ["Mon-Fri 09:00-17:00 Europe/Berlin"]`)
			if !ok {
				continue
			}
			pol.Windows = []strata.Window{}
			for _, it := range items {
				s, ok := l.scalar(src, it, "a deploy window", `"Mon-Fri 09:00-17:00 Europe/Berlin"`)
				if !ok {
					continue
				}
				w, err := strata.ParseWindow(s)
				if err != nil {
					l.errorf(src.pos(it), "%v", err)
					continue
				}
				pol.Windows = append(pol.Windows, w)
			}
		case "soak":
			if d, ok := l.duration(src, p.v, "soak", "30m"); ok {
				sd := strata.Duration(d)
				pol.Soak = &sd
			}
		case "flag_approvals":
			if i, ok := l.integer(src, p.v, "flag_approvals", "flag_approvals: 1"); ok {
				if i < 0 || i > 1000 {
					l.errorf(src.pos(p.v), "flag_approvals is %d; it must be a whole number from 0 (none needed) up, e.g. flag_approvals: 1", i)
					continue
				}
				n := int(i)
				pol.FlagApprovals = &n
			}
		default:
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, policyKeys))
		}
	}
	return pol
}

func (l *loader) decodeNotify(src *source, n *yaml.Node) {
	items, _ := l.sequence(src, n, "notify", `notify: ["https://hooks.slack.com/services/..."]`)
	for _, it := range items {
		it = l.deref(src, it)
		if it == nil {
			continue
		}
		nt := strata.Notify{Pos: src.pos(it)}
		if it.Kind == yaml.MappingNode {
			pairs, _ := l.mapping(src, it, "a notify entry", "{url: https://example.com/hook, events: [failed]}")
			for _, p := range pairs {
				switch p.key {
				case "url":
					nt.URL, _ = l.scalar(src, p.v, "url", "url: https://example.com/hook")
					nt.Pos = src.pos(l.deref(src, p.v))
				case "events":
					evs, _ := l.sequence(src, p.v, "events", "events: [waiting, failed]")
					for _, e := range evs {
						if s, ok := l.scalar(src, e, "an event", "failed"); ok {
							if !slices.Contains(strata.WebhookEvents, s) {
								// A misspelt event would silently never be sent.
								l.errorf(src.pos(l.deref(src, e)), "notify: %s", suggest.Unknown("event", s, strata.WebhookEvents))
								continue
							}
							nt.Events = append(nt.Events, s)
						}
					}
				default:
					l.errorf(src.pos(p.k), "%s", unknownKey(p.key, "a notify entry", notifyKeys))
				}
			}
			if nt.URL == "" {
				l.errorf(src.pos(it), "a notify entry needs a url; write e.g. {url: https://example.com/hook}")
				continue
			}
		} else {
			s, ok := l.scalar(src, it, "a notify entry", `"https://example.com/hook"`)
			if !ok {
				continue
			}
			nt.URL = s
		}
		if u, err := url.Parse(nt.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.errorf(nt.Pos, "notify URL %q is not an http(s) URL; write e.g. https://example.com/hook", nt.URL)
			continue
		}
		l.p.Notify = append(l.p.Notify, nt)
	}
}

func quote(s string) string { return strconv.Quote(s) }
