package config

import (
	"github.com/strata-dev/strata"
	"go.yaml.in/yaml/v3"
)

var groupKeys = []string{"environments", "live", "switch", "policy"}

// groupMeta keeps where the parts of a group were written, for the checks that need every
// environment declared.
type groupMeta struct {
	g      *strata.Group
	envPos strata.Pos
}

func (l *loader) decodeGroups(src *source, n *yaml.Node) {
	pairs, _ := l.mapping(src, n, "groups", "groups: {shop-us: {environments: [prod-us-blue, prod-us-green], live: prod-us-blue}}")
	for _, p := range pairs {
		at := src.pos(p.k)
		if msg := badName("group", p.key, "shop-us"); msg != "" {
			l.errorf(at, "%s", msg)
			continue
		}
		if prev := l.p.Group(p.key); prev != nil {
			l.errorf(at, "group %q is defined twice: here and at %s; rename or remove one", p.key, prev.Pos)
			continue
		}
		m := &groupMeta{g: &strata.Group{Name: p.key, Pos: at}}
		l.decodeGroup(src, m, p.v)
		l.groups = append(l.groups, m)
		l.p.Groups = append(l.p.Groups, m.g)
	}
}

func (l *loader) decodeGroup(src *source, m *groupMeta, n *yaml.Node) {
	g := m.g
	where := "group " + quote(g.Name)
	pairs, _ := l.mapping(src, n, where, "{environments: [prod-us-blue, prod-us-green], live: prod-us-blue, switch: ./deploy/switch.sh}")
	hasEnvs := false
	for _, p := range pairs {
		switch p.key {
		case "environments":
			hasEnvs = true
			items, ok := l.sequence(src, p.v, "environments of "+where, "environments: [prod-us-blue, prod-us-green]")
			if !ok {
				continue
			}
			m.envPos = src.pos(l.deref(src, p.v))
			for _, it := range items {
				s, ok := l.scalar(src, it, "an environment of "+where, "prod-us-blue")
				if !ok {
					continue
				}
				at := src.pos(l.deref(src, it))
				if i := indexOf(g.Environments, s); i >= 0 {
					l.errorf(at, "%s names environment %q twice (first at %s); remove one", where, s, g.EnvPos[i])
					continue
				}
				g.Environments = append(g.Environments, s)
				g.EnvPos = append(g.EnvPos, at)
			}
		case "live":
			if s, ok := l.scalar(src, p.v, "live", "live: prod-us-blue"); ok {
				g.Live, g.LivePos = s, src.pos(l.deref(src, p.v))
			}
		case "switch":
			g.Switch = l.decodeStep(src, p, where, false)
		case "policy":
			g.Policy = l.decodePolicy(src, p.k, p.v, "policy of "+where)
			if g.Policy.Windows != nil || g.Policy.Soak != nil || g.Policy.FlagApprovals != nil {
				l.errorf(src.pos(p.k), "policy of %s takes approvals only (a switch follows the deploy windows and freezes of the environment it moves to); write e.g. policy: {approvals: 1}", where)
			}
		default:
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, groupKeys))
		}
	}
	if !hasEnvs {
		l.errorf(g.Pos, "%s has no environments; add e.g. environments: [prod-us-blue, prod-us-green]", where)
	}
}

// resolveGroups checks every group against the environments: members are declared and in
// one group each, live is a member; a group of fewer than two members is an error, since
// there is nothing to switch to.
func (l *loader) resolveGroups() {
	names := l.p.EnvironmentNames()
	in := map[string]*strata.Group{}
	for _, m := range l.groups {
		g := m.g
		where := "group " + quote(g.Name)
		for i, name := range g.Environments {
			at := g.EnvPos[i]
			if _, ok := l.envs[name]; !ok {
				l.errorf(at, "%s names the undeclared environment %q%s; declare it under environments, or name one of: %s", where, name, didYouMean(name, names), listSome(names))
				continue
			}
			if other := in[name]; other != nil {
				l.errorf(at, "environment %q is in two groups: %s (at %s) and %s; an environment is in one group at most: remove it from one", name, quote(other.Name), other.Pos, quote(g.Name))
				continue
			}
			in[name] = g
		}
		if len(g.Environments) == 1 {
			l.errorf(m.envPos, "%s has one environment; a group needs two or more to switch between, e.g. [prod-us-blue, prod-us-green]", where)
		}
		switch {
		case g.Live == "" && len(g.Environments) > 0:
			g.Live = g.Environments[0]
		case g.Live != "" && !g.Has(g.Live):
			l.errorf(g.LivePos, "live of %s is %q, which is not a member%s; name one of its environments: %s", where, g.Live, didYouMean(g.Live, g.Environments), listSome(g.Environments))
		}
	}
}

// groupStage reads a stage selector {group: NAME, role: standby|live} as a group's members
// by role, when the project declares that group; it reports whether sel was one.
func (l *loader) groupStage(m *stageMeta, where string) bool {
	st := m.st
	name, ok := st.Selector["group"]
	if !ok || len(l.groups) == 0 {
		return false
	}
	g := l.p.Group(name)
	if g == nil {
		l.errorf(m.envPos, "the selector of %s names the unknown group %q%s; groups: %s", where, name, didYouMean(name, l.p.GroupNames()), listSome(l.p.GroupNames()))
		st.Selector = nil
		return true
	}
	role := st.Selector["role"]
	for k := range st.Selector {
		if k != "group" && k != "role" {
			l.errorf(m.envPos, "the selector of %s selects group %s by role and takes no other key (%q); write {group: %s, role: standby}", where, g.Name, k, g.Name)
		}
	}
	switch role {
	case strata.RoleStandby, strata.RoleLive:
	default:
		l.errorf(m.envPos, "the selector of %s gives group %s the role %q; the role is standby or live, e.g. {group: %s, role: standby}", where, g.Name, role, g.Name)
		role = strata.RoleStandby
	}
	st.Selector, st.Group, st.Role = nil, g.Name, role
	st.Environments = MembersIn(g, role, g.Live)
	return true
}

// MembersIn returns the members of g that have role when live is the live member.
func MembersIn(g *strata.Group, role, live string) []string {
	if role == strata.RoleLive {
		return []string{live}
	}
	return g.Standby(live)
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
