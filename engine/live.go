package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
)

// Which member of each group is live, and the stages that follow it (groups).

// Live returns the live member of every group: the store's once a switch moved it (and it
// is still a member), else the one strata.yaml names.
func (e *Engine) Live(ctx context.Context) (map[string]string, error) {
	out := make(map[string]string, len(e.Project.Groups))
	if len(e.Project.Groups) == 0 {
		return out, nil
	}
	ms, err := e.Store.LiveMembers(ctx)
	if err != nil {
		return nil, fmt.Errorf("read live members: %w", err)
	}
	for _, g := range e.Project.Groups {
		out[g.Name] = g.Live
	}
	for _, m := range ms {
		if g := e.Project.Group(m.Group); g != nil && g.Has(m.Environment) {
			out[g.Name] = m.Environment
		}
	}
	return out, nil
}

// ApplyLive sets the membership of p's stages that select a group by role ({group: G, role:
// standby}) from the store's live members, replacing p.Pipeline with a new list (the stages
// it had are not changed: a server's other requests may read them). A project without such
// stages is left as it is, without reading the store.
func ApplyLive(ctx context.Context, p *strata.Project, s strata.GroupStore) error {
	if !slices.ContainsFunc(p.Pipeline, func(st *strata.Stage) bool { return st.Group != "" }) {
		return nil
	}
	ms, err := s.LiveMembers(ctx)
	if err != nil {
		return fmt.Errorf("read live members: %w", err)
	}
	for _, m := range ms {
		SetLive(p, m.Group, m.Environment)
	}
	return nil
}

// SetLive makes env the live member of group in p's stages that select the group by role,
// replacing p.Pipeline with a new list. An env that is no member is ignored.
func SetLive(p *strata.Project, group, env string) {
	g := p.Group(group)
	if g == nil || !g.Has(env) {
		return
	}
	pl := slices.Clone(p.Pipeline)
	for i, st := range pl {
		if st.Group != group {
			continue
		}
		cp := *st
		cp.Environments = config.MembersIn(g, st.Role, env)
		pl[i] = &cp
	}
	p.Pipeline = pl
}

// SameMembers reports whether a and b's stages hold the same environments: whether a
// switch moved a standby stage between them.
func SameMembers(a, b *strata.Project) bool {
	return slices.EqualFunc(a.Pipeline, b.Pipeline, func(x, y *strata.Stage) bool {
		return x.Name == y.Name && slices.Equal(x.Environments, y.Environments)
	})
}
