package engine

import (
	"context"
	"io"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/secret"
)

// Health events: the audit actions of a deployment whose check, run again after the
// deployment, stopped passing or passed again.
const (
	ActionUnhealthy = "health.unhealthy"
	ActionRecovered = "health.recovered"
)

// Recheck runs the health check of d, what runs in its pair, once more, as `serve` does
// every --health-interval: one try of at most the check's timeout (10s at most), and when
// it fails one more after the check's interval, so that one dropped connection does not
// make a deployment unhealthy. running is what runs in each pair (Current), whose outputs
// d's config reads. The check sees the config d was deployed with (the files may have
// changed since) and the environment's secrets now; what it observed has them redacted.
// EINVALID when d's service has no health check or is unknown; the config's errors when it
// does not resolve; ctx's error when ctx ended (nothing was observed).
func (e *Engine) Recheck(ctx context.Context, d *strata.Deployment, running map[plan.Pair]*strata.Deployment) (*strata.HealthCheck, error) {
	svc := e.Project.Service(d.Service)
	if svc == nil || svc.Health == nil {
		return nil, strata.Errorf(strata.EINVALID, "recheck %s: service %q has no health check", d.ID, d.Service)
	}
	f := e.noFacts()
	for _, dep := range svc.DependsOn {
		k := plan.Pair{Service: dep, Environment: d.Environment}
		if r := running[k]; r != nil {
			f.Current[k] = r
		}
	}
	rs, err := e.resolve(svc, d.Environment, d.Version, f)
	if err != nil {
		return nil, err
	}
	// The check checks what runs: the values d was deployed with, not today's (strata.yaml
	// may have changed since, which drift reports); secrets, never stored, from today's.
	rs = reuseKept(rs, d.Config)
	secrets := secretValues(rs)
	rel, err := e.findRelease(ctx, d.Service, d.Version)
	if err != nil {
		return nil, err
	}
	p, err := e.newProbe(svc, rs, d, rel)
	if err != nil {
		return nil, err
	}
	per := min(svc.Health.Timeout, maxProbe)
	if per <= 0 {
		per = maxProbe
	}
	c := &strata.HealthCheck{Service: d.Service, Environment: d.Environment, Deployment: d.ID, Health: strata.Healthy, CheckedAt: e.now()}
	got, _ := e.try(ctx, p, per, io.Discard)
	if got != "" && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(svc.Health.Interval):
			got, _ = e.try(ctx, p, per, io.Discard)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if got != "" {
		c.Health, c.Detail = strata.Unhealthy, secret.Redact(got, secrets)
	}
	return c, nil
}

// RecordHealth keeps c, a check of the deployment of version, in the store, with the audit
// event of the transition when c changes the deployment's health. It reports whether this
// call made the transition: of several servers that saw it, one is told, and announces it.
func (e *Engine) RecordHealth(ctx context.Context, c *strata.HealthCheck, version string) (bool, error) {
	action := ActionRecovered
	if c.Health == strata.Unhealthy {
		action = ActionUnhealthy
	}
	ev := e.event(action, c.Service, c.Environment, c.Deployment, map[string]any{"version": version, "detail": c.Detail})
	return e.Store.RecordHealth(ctx, c, ev)
}
