package http

import (
	"context"
	"log/slog"
	"slices"
	"sync"
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
	if ctx.Err() == nil {
		now := time.Now()
		if e.Now != nil {
			now = e.Now()
		}
		s.schedErrs.log(s.log, err, now)
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

// A scheduler pass reports what failed, and the same failure tends to come back on every
// pass (a bundle the store lacks, a promotion whose config is wrong): one line per failure
// every few seconds would bury everything else in the log. So the scheduler says each
// failure once: a final one (strata.IsTerminal: asking again fails the same way until
// someone changes something) at Error, once for as long as it keeps coming; one worth
// retrying at Warn, and again only after schedulerQuiet has passed while it kept coming.

// schedulerQuiet is how long a failure worth retrying that keeps coming is not logged again.
const schedulerQuiet = 10 * time.Minute

// maxSchedulerErrs bounds the failures remembered.
const maxSchedulerErrs = 1024

// schedulerErrs remembers the failures the scheduler logged, by message.
type schedulerErrs struct {
	mu   sync.Mutex
	seen map[string]time.Time // message -> when it was last logged
}

// log logs the parts of a pass's error (errors.Join's, one level deep) that are new, or
// worth retrying and not logged for schedulerQuiet. A failure that did not come back in a
// pass is forgotten, so that it is logged again should it come back later.
func (se *schedulerErrs) log(l *slog.Logger, err error, now time.Time) {
	se.mu.Lock()
	defer se.mu.Unlock()
	parts := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	}
	pass := make(map[string]bool, len(parts))
	for _, p := range parts {
		if p == nil {
			continue
		}
		msg := p.Error()
		pass[msg] = true
		last, seen := se.seen[msg]
		final := strata.IsTerminal(p)
		if seen && (final || now.Sub(last) < schedulerQuiet) {
			continue
		}
		if se.seen == nil || len(se.seen) >= maxSchedulerErrs {
			se.seen = map[string]time.Time{}
		}
		se.seen[msg] = now
		if final {
			l.Error("scheduler: a failure that trying again will not mend; it is not logged again while it lasts", "err", p, "code", strata.ErrorCode(p))
		} else {
			l.Warn("scheduler: a failure, tried again on every pass", "err", p, "code", strata.ErrorCode(p))
		}
	}
	for msg := range se.seen {
		if !pass[msg] {
			delete(se.seen, msg)
		}
	}
}
