package http

import (
	"context"
	"time"
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
// owner is gone (on this host a dead process, elsewhere a lapsed lease), carries on the
// promotions they belonged to, starts waiting promotions whose gates opened (a window
// opened, a soak ended, an approval came) and chains auto stages after them, and destroys
// short-lived environments whose time ran out. Several servers on one store may tick at
// once: taking a deployment over and starting a waiting promotion are compare-and-set in
// the store, so each piece of work runs once.
func (s *Server) Tick(ctx context.Context) {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	s.metrics.tick()
	e := *s.engine
	e.Actor = s.cfg.SchedulerActor
	res, err := e.Resume(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("scheduler", "err", err)
	}
	if res == nil {
		return
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
