package config

import (
	"maps"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
)

// resolve runs the checks that need every file read: references between names, extends,
// dependencies, schema fit of literal values, interpolation shapes and the pipeline.
func (l *loader) resolve() {
	switch {
	case l.brokenTop:
	case !l.sawProject:
		l.errorf(strata.Pos{File: l.p.File, Line: 1, Col: 1}, "no project name; start %s with e.g. project: shop", l.p.File)
	}
	l.resolveExtends()
	l.checkDependsOn()
	l.checkConfigValues()
	l.checkSecretSources()
	for _, it := range l.strs {
		l.checkRefs(it)
	}
	l.resolveGroups()
	l.resolvePipeline()
	l.checkFlags()
}

// resolveExtends fills Labels, LabelPos, Policy and Chain through each environment's
// extends chain, reporting unknown parents and cycles. It is linear in the environments.
func (l *loader) resolveExtends() {
	names := l.p.EnvironmentNames()
	parent := map[*strata.Environment]*strata.Environment{}
	for _, e := range l.p.Environments {
		if e.Extends == "" {
			continue
		}
		p, ok := l.envs[e.Extends]
		if !ok {
			l.errorf(e.ExtendsPos, "environment %q extends the unknown environment %q%s; environments: %s", e.Name, e.Extends, didYouMean(e.Extends, names), listSome(names))
			continue
		}
		parent[e] = p
	}
	done := map[*strata.Environment]bool{}
	for _, e := range l.p.Environments {
		var path []*strata.Environment
		onPath := map[*strata.Environment]int{}
		for cur := e; cur != nil && !done[cur]; cur = parent[cur] {
			if i, seen := onPath[cur]; seen {
				cycle := path[i:]
				var cn []string
				for _, c := range cycle {
					cn = append(cn, c.Name)
				}
				cn = append(cn, cur.Name)
				l.errorf(cur.ExtendsPos, "extends cycle: %s; an environment cannot extend itself: remove one extends", strings.Join(cn, " -> "))
				for _, c := range cycle {
					delete(parent, c)
				}
				break
			}
			onPath[cur] = len(path)
			path = append(path, cur)
		}
		for i := len(path) - 1; i >= 0; i-- {
			l.finishEnv(path[i], parent[path[i]])
			done[path[i]] = true
		}
	}
}

func (l *loader) finishEnv(e, parent *strata.Environment) {
	e.Labels = map[string]string{}
	e.LabelPos = map[string]strata.Pos{}
	var pol strata.Policy
	if parent != nil {
		maps.Copy(e.Labels, parent.Labels)
		maps.Copy(e.LabelPos, parent.LabelPos)
		pol = parent.Policy
		e.Chain = slices.Clone(parent.Chain)
		if e.OwnRunsOn == "" {
			e.RunsOn, e.RunsOnPos = parent.RunsOn, parent.RunsOnPos
		}
	}
	if e.OwnRunsOn != "" {
		e.RunsOn = e.OwnRunsOn
	}
	maps.Copy(e.Labels, e.OwnLabels)
	maps.Copy(e.LabelPos, l.labelPos[e])
	e.Policy = pol.Merge(e.OwnPolicy)
	e.Chain = append(e.Chain, e)
}

// checkDependsOn reports dependencies on unknown services, on the service itself, and cycles.
func (l *loader) checkDependsOn() {
	names := l.p.ServiceNames()
	for _, s := range l.p.Services {
		for i, d := range s.DependsOn {
			switch _, ok := l.svcs[d]; {
			case d == s.Name:
				l.errorf(s.DependsOnPos[i], "service %q depends on itself; remove %q from its depends_on", s.Name, d)
			case !ok:
				l.errorf(s.DependsOnPos[i], "service %q depends on the unknown service %q%s; services: %s", s.Name, d, didYouMean(d, names), listSome(names))
			}
		}
	}
	const (
		unseen = iota
		active
		finished
	)
	state := map[*strata.Service]int{}
	var stack []*strata.Service
	var visit func(s *strata.Service)
	visit = func(s *strata.Service) {
		state[s] = active
		stack = append(stack, s)
		for i, d := range s.DependsOn {
			t := l.svcs[d]
			if t == nil || t == s {
				continue
			}
			switch state[t] {
			case unseen:
				visit(t)
			case active:
				j := slices.Index(stack, t)
				var cn []string
				for _, c := range stack[j:] {
					cn = append(cn, c.Name)
				}
				cn = append(cn, t.Name)
				l.errorf(s.DependsOnPos[i], "depends_on cycle: %s; remove one of these dependencies", strings.Join(cn, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		state[s] = finished
	}
	for _, s := range l.p.Services {
		if state[s] == unseen {
			visit(s)
		}
	}
}

// schemaRef is one service's schema entry for a key.
type schemaRef struct {
	svc *strata.Service
	key *strata.Key
}

// checkConfigValues checks every literal config value against each schema that declares
// its key, and overrides against known environments.
func (l *loader) checkConfigValues() {
	bykey := map[string][]schemaRef{}
	for _, s := range l.p.Services {
		for _, k := range s.Schema {
			bykey[k.Name] = append(bykey[k.Name], schemaRef{s, k})
		}
	}
	check := func(key string, v strata.Value, refs []schemaRef) {
		if isTemplate(v.V) {
			return
		}
		for _, r := range refs {
			if want := wantFor(r.key, v.V); want != "" {
				l.errorf(v.Pos, "%s is %s here but %s's schema (%s) wants %s", key, show(v.V), r.svc.Name, r.key.Pos, want)
			}
			if r.key.Secret {
				l.warnf(v.Pos, "%s is a secret in %s's schema (%s); secrets do not belong in strata.yaml: run `strata secret set ENV %s`", key, r.svc.Name, r.key.Pos, key)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(l.p.Defaults)) {
		check(k, l.p.Defaults[k], bykey[k])
	}
	for _, e := range l.p.Environments {
		for _, k := range slices.Sorted(maps.Keys(e.Config)) {
			check(k, e.Config[k], bykey[k])
		}
	}
	envNames := l.p.EnvironmentNames()
	for _, s := range l.p.Services {
		for _, env := range slices.Sorted(maps.Keys(s.Overrides)) {
			if _, ok := l.envs[env]; !ok {
				l.errorf(s.OverridePos[env], "overrides of service %q name the unknown environment %q%s; environments: %s", s.Name, env, didYouMean(env, envNames), listSome(envNames))
			}
			vals := s.Overrides[env]
			for _, k := range slices.Sorted(maps.Keys(vals)) {
				if key := s.Key(k); key != nil {
					check(k, vals[k], []schemaRef{{s, key}})
				}
			}
		}
	}
}
