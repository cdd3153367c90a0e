package http

import (
	"github.com/strata-dev/strata"
)

// agentMayFetch checks an agent's token holds a claim on a deployment of a release whose
// bundle is digest, or on a runbook run in an environment where that release runs, in an
// environment the token covers.
func (s *Server) agentMayFetch(c *call, digest string) error {
	ctx := c.r.Context()
	ds, err := s.store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Running}})
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.Pool == "" || !d.Owner.IsAgent() || !c.tok.Covers(c.p.Environment(d.Environment)) {
			continue
		}
		if rel, err := s.store.Release(ctx, d.Service, d.Version); err == nil && rel.Bundle == digest {
			return nil
		}
	}
	rs, err := s.store.TaskRuns(ctx, strata.TaskRunFilter{States: []string{strata.RunRunning}})
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Pool == "" || !r.Owner.IsAgent() || !c.tok.Covers(c.p.Environment(r.Environment)) {
			continue
		}
		// A run's job carries the bundle of the release running in its environment.
		ds, err := s.store.Deployments(ctx, strata.DeploymentFilter{Service: r.Service, Environment: r.Environment, States: []string{strata.Succeeded}, Limit: 1})
		if err != nil {
			return err
		}
		if len(ds) == 1 {
			if rel, err := s.store.Release(ctx, ds[0].Service, ds[0].Version); err == nil && rel.Bundle == digest {
				return nil
			}
		}
	}
	s.auditDenied(ctx, c.r, c.tok, strata.ActFetch, "")
	return deny("%s's token holds no claim on a deployment of bundle %s; an agent downloads only the bundles of its claims", c.tok.Name, digest)
}
