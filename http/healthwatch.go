package http

import (
	"cmp"
	"context"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// DefaultHealthInterval is how often `serve` checks again the health of what runs in each
// environment when --health-interval does not say.
const DefaultHealthInterval = time.Minute

// DefaultHealthChecks bounds how many health checks one server runs at once.
const DefaultHealthChecks = 16

// healthWatch runs the checks of Server.watchHealth. after is the clock's wait (time.After
// unless a test gives its own); phase is this process's offset in the interval, so that
// replicas spread over it rather than check each pair at the same instant.
type healthWatch struct {
	interval time.Duration
	limit    int
	after    func(time.Duration) <-chan time.Time
	phase    time.Duration
}

func newHealthWatch(cfg Config) *healthWatch {
	w := &healthWatch{interval: cfg.HealthInterval, limit: cfg.HealthChecks, after: cfg.HealthAfter}
	if w.limit <= 0 {
		w.limit = DefaultHealthChecks
	}
	if w.after == nil {
		w.after = time.After
	}
	if w.interval > 0 {
		w.phase = time.Duration(rand.Int64N(int64(w.interval)))
	}
	return w
}

// healthJob is one pair to check: what runs there, when it was last checked (zero when
// never), and when in the pass it is due.
type healthJob struct {
	d    *strata.Deployment
	last time.Time
	at   time.Duration
}

// offset places a pair in the interval: a hash of its names, so that one pair is checked
// at the same point of every pass and 10,000 pairs spread evenly rather than fire at once,
// shifted by this process's phase.
func (w *healthWatch) offset(service, env string) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(service + "\x00" + env))
	return time.Duration((h.Sum64() + uint64(w.phase)) % uint64(w.interval))
}

// watchHealth checks, every interval until ctx ends, the health of what runs in every pair
// whose service has a health check, each pair at its own offset in the interval and at most
// limit at once. It never rolls anything back: a deployment that stops passing its check is
// shown unhealthy (status, the dashboard, /metrics, drift) and announced to webhooks.
func (s *Server) watchHealth(ctx context.Context) {
	w := s.health
	for {
		start := s.now()
		jobs, e, running := s.healthJobs(ctx)
		for _, j := range jobs {
			j.at = w.offset(j.d.Service, j.d.Environment)
		}
		slices.SortFunc(jobs, func(a, b *healthJob) int { return cmp.Compare(a.at, b.at) })
		sem := make(chan struct{}, w.limit)
		var wg sync.WaitGroup
		for _, j := range jobs {
			if wait := j.at - s.now().Sub(start); wait > 0 {
				select {
				case <-ctx.Done():
				case <-w.after(wait):
				}
			}
			// Checked less than 9/10 of an interval ago: by another replica sharing the
			// store, whose phase is earlier than ours.
			if !j.last.IsZero() && s.now().Sub(j.last) < w.interval*9/10 {
				continue
			}
			select {
			case <-ctx.Done():
			case sem <- struct{}{}:
			}
			if ctx.Err() != nil {
				break
			}
			due := s.now()
			wg.Go(func() {
				defer func() { <-sem }()
				s.recheck(ctx, e, j.d, running, due)
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		if wait := w.interval - s.now().Sub(start); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.after(wait):
			}
		}
	}
}

// RecheckHealth checks, once and now, the health of what runs in every pair whose service
// has a health check (at most HealthChecks at once), records what each check saw, and
// announces the transitions this server recorded. It is one pass of what Serve does every
// HealthInterval, without spreading the checks over it.
func (s *Server) RecheckHealth(ctx context.Context) {
	jobs, e, running := s.healthJobs(ctx)
	sem := make(chan struct{}, s.health.limit)
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.recheck(ctx, e, j.d, running, time.Time{})
		})
	}
	wg.Wait()
}

// healthJobs returns the pairs to check, the engine to check them with (the current
// project, acting as the scheduler), and what runs in the pairs their checks read. It leaves out a pair whose
// service has no check, one being deployed to (its check would see the deployment), and
// one of an environment that runs_on a pool of agents.
//
// It reads the store only when some pair may be checked, and then what runs in the pairs
// the checks need (checkedRunning) and the active deployments alone (a handful, from their
// own index): its first pass starts with serve, as the first status reads every pair, and
// at 50,000 pairs reading every pair's running and newest deployments held 53 MB at once.
func (s *Server) healthJobs(ctx context.Context) ([]*healthJob, *engine.Engine, map[plan.Pair]*strata.Deployment) {
	e := *s.engine
	e.Actor = s.cfg.SchedulerActor
	e.Project = s.cur.Load()
	if !anyChecked(e.Project) {
		return nil, &e, nil
	}
	running, err := s.checkedRunning(ctx, e.Project)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("health watch: read what runs", "err", err)
		}
		return nil, &e, nil
	}
	active, err := s.store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Pending, strata.Running, strata.Interrupted}})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("health watch: read the active deployments", "err", err)
		}
		return nil, &e, nil
	}
	busy := map[plan.Pair]bool{}
	for _, d := range active {
		busy[plan.Pair{Service: d.Service, Environment: d.Environment}] = true
	}
	checks, err := s.store.HealthChecks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("health watch: read health checks", "err", err)
		}
		return nil, &e, nil
	}
	last := map[string]time.Time{}
	for _, c := range checks {
		last[c.Deployment] = c.CheckedAt
	}
	var jobs []*healthJob
	for _, env := range e.Project.Environments {
		for _, svc := range e.Project.Services {
			k := plan.Pair{Service: svc.Name, Environment: env.Name}
			d := running[k]
			// An environment whose steps run on agents is checked where they run, inside
			// its network, which this server may not reach: its agent checks it on each
			// deployment, and Recheck runs the check on an agent when a switch or drift
			// asks for it. The watch does not: it would queue a task run on the pool's
			// agents for every pair every interval (10,000 a minute on a large estate),
			// each held in the store, and an agent runs one job at a time, so the checks
			// would queue ahead of deployments.
			if d == nil || svc.Health == nil || busy[k] || env.Predates(d) || env.RunsOn != "" {
				continue
			}
			jobs = append(jobs, &healthJob{d: d, last: last[d.ID]})
		}
	}
	return jobs, &e, running
}

// checkedRunning returns what runs (Engine.Current) in each pair of p whose service has a
// health check, and of each service those depend on, whose outputs their config reads
// (Engine.Recheck). It keeps those pairs' deployments alone as the read streams by, where
// Engine.Current keeps every pair's.
func (s *Server) checkedRunning(ctx context.Context, p *strata.Project) (map[plan.Pair]*strata.Deployment, error) {
	need := map[string]bool{}
	for _, svc := range p.Services {
		if svc.Health != nil {
			need[svc.Name] = true
			for _, dep := range svc.DependsOn {
				need[dep] = true
			}
		}
	}
	running := map[plan.Pair]*strata.Deployment{}
	err := s.store.ScanDeployments(ctx, strata.DeploymentFilter{States: []string{strata.Succeeded}, Latest: true}, func(d *strata.Deployment) error {
		if need[d.Service] && !p.Environment(d.Environment).Predates(d) {
			running[plan.Pair{Service: d.Service, Environment: d.Environment}] = d
		}
		return nil
	})
	return running, err
}

// anyChecked reports whether p has a pair the health watch checks: a service with a health
// check, and an environment whose steps run here rather than on agents.
func anyChecked(p *strata.Project) bool {
	return slices.ContainsFunc(p.Services, func(s *strata.Service) bool { return s.Health != nil }) &&
		slices.ContainsFunc(p.Environments, func(e *strata.Environment) bool { return e.RunsOn == "" })
}

// recheck checks d, records what the check saw, and announces a transition this server's
// write made (of several replicas that saw it, the store tells one). due, when set, is when
// the check was due and started, which it records.
func (s *Server) recheck(ctx context.Context, e *engine.Engine, d *strata.Deployment, running map[plan.Pair]*strata.Deployment, due time.Time) {
	c, err := e.Recheck(ctx, d, running)
	if err == nil && !due.IsZero() {
		c.CheckedAt = due
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("health watch: check", "service", d.Service, "environment", d.Environment, "deployment", d.ID, "err", err)
		}
		return
	}
	s.metrics.healthChecked(c.Health)
	changed, err := e.RecordHealth(ctx, c, d.Version)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("health watch: record", "service", d.Service, "environment", d.Environment, "deployment", d.ID, "err", err)
		}
		return
	}
	if !changed {
		return
	}
	if c.Health == strata.Unhealthy {
		s.log.Warn("health watch: a deployment stopped passing its health check", "service", d.Service, "environment", d.Environment,
			"deployment", d.ID, "version", d.Version, "detail", c.Detail)
	} else {
		s.log.Info("health watch: a deployment passes its health check again", "service", d.Service, "environment", d.Environment,
			"deployment", d.ID, "version", d.Version)
	}
	s.nudgeWebhooks()
}
