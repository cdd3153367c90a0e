package layer

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
)

// stepText is one interpolated string of a service: a step command or a URL.
type stepText struct {
	what  string
	text  string
	pos   strata.Pos
	shell bool // a command for /bin/sh, which gets its values through variables
}

func stepTexts(s *strata.Service) []stepText {
	var out []stepText
	add := func(what, text string, pos strata.Pos, shell bool) {
		if strings.IndexByte(text, '$') >= 0 {
			out = append(out, stepText{what: what, text: text, pos: pos, shell: shell})
		}
	}
	for _, st := range []struct {
		name string
		step *strata.Step
	}{{"deploy", s.Deploy}, {"destroy", s.Destroy}, {"observe", s.Observe}} {
		if st.step != nil {
			add(st.name, st.step.Run, st.step.Pos, true)
			add(st.name+".http", st.step.HTTP, st.step.Pos, false)
		}
	}
	if h := s.Health; h != nil {
		add("health.http", h.HTTP, h.Pos, false)
		add("health.command", h.Command, h.Pos, true)
	}
	return out
}

// Check resolves every service in every environment at config time and returns every
// problem: unknown references, cycles, values that do not fit a schema, and bad references
// in step commands and health or observe URLs (a build step runs in no environment, so it
// may use only ${service.name} and ${release.version}). A problem shared by many environments (the
// same bad default seen from each) is reported once, naming the environments when the cause
// lies in them. Problems come sorted by file position. Plain values given to a key the
// service declares secret are warnings: they are ignored.
func Check(p *strata.Project) strata.Problems {
	if p == nil {
		return nil
	}
	type groupKey struct {
		pos strata.Pos
		msg string
	}
	type group struct {
		envs []string
		seen map[string]bool
	}
	groups := map[groupKey]*group{}
	var order []groupKey
	collect := func(probs []problem) {
		for _, pr := range probs {
			k := groupKey{pr.pos, pr.msg}
			g := groups[k]
			if g == nil {
				g = &group{seen: map[string]bool{}}
				groups[k] = g
				order = append(order, k)
			}
			if pr.env != "" && !g.seen[pr.env] {
				g.seen[pr.env] = true
				g.envs = append(g.envs, pr.env)
			}
		}
	}

	r := NewResolver(p)
	for _, s := range p.Services {
		if b := s.Build; b != nil && strings.IndexByte(b.Run, '$') >= 0 {
			c := &ctx{p: p, sv: r.svcs[s.Name]}
			c.command(b.Run, b.Pos, label{kind: "build"})
			collect(c.probs)
		}
		sv := r.svcs[s.Name]
		texts := stepTexts(s)
		for _, e := range p.Environments {
			ev := r.envs[e.Name]
			res, probs := resolve(p, sv, ev, nil)
			collect(probs)
			if len(texts) == 0 {
				continue
			}
			c := &ctx{p: p, sv: sv, ev: ev, res: res}
			for _, t := range texts {
				if t.shell {
					c.command(t.text, t.pos, label{kind: t.what})
				} else {
					c.expand(t.text, t.pos, label{kind: t.what})
				}
			}
			collect(c.probs)
		}
	}

	out := make(strata.Problems, 0, len(order))
	for _, k := range order {
		out = append(out, &strata.Problem{Pos: k.pos, Message: k.msg + envList(groups[k].envs, len(p.Environments))})
	}
	out = append(out, secretWarnings(p)...)
	slices.SortStableFunc(out, func(a, b *strata.Problem) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
			strings.Compare(a.Message, b.Message),
		)
	})
	return out
}

// envList names the environments a problem was found in.
func envList(envs []string, total int) string {
	switch {
	case len(envs) == 0:
		return ""
	case len(envs) == 1:
		return " (environment " + envs[0] + ")"
	case len(envs) == total:
		return " (every environment)"
	case len(envs) <= 3:
		return " (environments " + strings.Join(envs, ", ") + ")"
	}
	return " (environments " + strings.Join(envs[:3], ", ") + " and " + strconv.Itoa(len(envs)-3) + " more)"
}

// secretWarnings warns about plain values a service gives its own secret keys (a schema
// default, an override): they are ignored, and a secret written in strata.yaml is not secret.
func secretWarnings(p *strata.Project) strata.Problems {
	var out strata.Problems
	for _, s := range p.Services {
		for _, k := range s.Schema {
			if !k.Secret {
				continue
			}
			const why = " is secret in the schema of service "
			fix := ", so this plain value is ignored; store it with `strata secret set ENV " + k.Name + "`"
			if k.Default != nil {
				out = append(out, &strata.Problem{Pos: k.Default.Pos, Warning: true,
					Message: "config " + k.Name + why + s.Name + fix})
			}
			for env, m := range s.Overrides {
				if v, ok := m[k.Name]; ok {
					out = append(out, &strata.Problem{Pos: v.Pos, Warning: true,
						Message: "overrides." + env + " " + k.Name + why + s.Name + fix})
				}
			}
		}
	}
	return out
}
