package http

import (
	"context"
	"slices"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// runScheduler runs Tick every cfg.Tick until ctx ends.
func (s *Server) runScheduler(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick makes one scheduler pass, as `strata resume` does: it resumes deployments whose
// owner is gone (on this host a dead process, elsewhere a lapsed lease), takes over and
// carries on the running promotions whose owner is gone by the same rule (a `strata
// promote` killed before its first deployment included), starts waiting promotions whose
// gates opened (a window opened, a soak ended, an approval came) and chains auto stages
// after them, and destroys short-lived environments whose time ran out. Several servers on
// one store may tick at once: taking a deployment or a promotion over and starting a waiting
// promotion are compare-and-set in the store, so each piece of work runs once. A deployment
// of a pool is not the scheduler's: when its agent's lease lapses the next agent's claim
// takes it over (ClaimJob, compare-and-set on its fence), through whichever server.
func (s *Server) Tick(ctx context.Context) {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	s.metrics.tick()
	e := *s.engine
	e.Actor = s.cfg.SchedulerActor
	// The engine works on a private copy (destroying an environment changes its list) of
	// the project with the short-lived environments the store holds now.
	e.Project = cloneProject(s.syncEnvironments(ctx))
	res, err := e.Resume(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("scheduler", "err", err)
	}
	if res == nil {
		return
	}
	var gone []string
	for _, d := range res.Destroyed {
		if d.Destroyed {
			gone = append(gone, d.Name)
		}
	}
	if len(gone) > 0 {
		s.forget(gone...)
	}
	for _, d := range res.Resumed {
		s.log.Info("scheduler resumed a deployment", "deployment", d.ID, "service", d.Service, "environment", d.Environment, "state", d.State, "attempt", d.Attempt)
	}
	for _, p := range res.Promotions {
		s.log.Info("scheduler ran a promotion", "promotion", p.Promotion.ID, "service", p.Promotion.Service, "stage", p.Promotion.Stage, "state", p.Promotion.State)
	}
	for _, d := range res.Destroyed {
		s.log.Info("scheduler destroyed an expired environment", "environment", d.Name)
	}
}

// syncEnvironments publishes, and returns, the current project with the short-lived
// environments the store holds: those made or destroyed elsewhere (by the CLI where the store
// is, or another server on it) appear and go. A store that cannot be read leaves the project
// as it is.
func (s *Server) syncEnvironments(ctx context.Context) *strata.Project {
	s.projMu.Lock()
	defer s.projMu.Unlock()
	cur := s.cur.Load()
	held, err := s.store.Environments(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("scheduler: read short-lived environments", "err", err)
		}
		return cur
	}
	np := cloneProject(cur)
	np.Environments = slices.DeleteFunc(np.Environments, func(env *strata.Environment) bool {
		return env.Ephemeral && !slices.ContainsFunc(held, func(h *strata.EphemeralEnv) bool { return h.Name == env.Name })
	})
	skipped, err := engine.LoadEnvironments(ctx, np, s.store)
	if err != nil {
		s.log.Warn("scheduler: load short-lived environments", "err", err)
		return cur
	}
	for _, err := range skipped {
		s.log.Warn("scheduler", "err", err)
	}
	// A switch made elsewhere moves the standby stages' members (groups).
	if err := engine.ApplyLive(ctx, np, s.store); err != nil {
		s.log.Warn("scheduler: read live members", "err", err)
	}
	if slices.Equal(np.Environments, cur.Environments) && engine.SameMembers(np, cur) {
		return cur
	}
	s.cur.Store(np)
	return np
}
