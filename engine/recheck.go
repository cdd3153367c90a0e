package engine

import (
	"context"
	"encoding/json"
	"fmt"
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
// In an environment with runs_on an agent of the pool runs it (recheckOnAgent), inside the
// environment's network and with its key. EINVALID when d's service has no health check or
// is unknown; the config's errors when it does not resolve; an error saying so when no
// agent of the pool answered; ctx's error when ctx ended (nothing was observed).
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
	if env := e.Project.Environment(d.Environment); env != nil && env.RunsOn != "" {
		return e.recheckOnAgent(ctx, svc, env, d, f)
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
	c := &strata.HealthCheck{Service: d.Service, Environment: d.Environment, Deployment: d.ID, Health: strata.Healthy, CheckedAt: e.now()}
	got := e.recheckProbe(ctx, p, svc.Health.Timeout, svc.Health.Interval)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if got != "" {
		c.Health, c.Detail = strata.Unhealthy, secret.Redact(got, secrets)
	}
	return c, nil
}

// recheckProbe tries p as Recheck does, where the project is or on an agent: once, for at
// most timeout (maxProbe at most), and when that fails once more after interval. It returns
// "" when the check passed, else what it observed (not yet redacted).
func (e *Engine) recheckProbe(ctx context.Context, p *probe, timeout, interval time.Duration) string {
	per := min(timeout, maxProbe)
	if per <= 0 {
		per = maxProbe
	}
	got, _ := e.try(ctx, p, per, io.Discard)
	if got != "" && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(interval):
			got, _ = e.try(ctx, p, per, io.Discard)
		}
	}
	return got
}

// recheckOnAgent has an agent of env's pool run d's health check again: a task run of kind
// health whose job is the check as a deployment's job carries it (newJob's), with the config
// d was deployed with and env's secrets sealed, as for a deployment (this process need not
// hold env's key). It waits for the agent as drift's observe does (runOnAgent) and reads
// the check from the agent's report: healthy when it passed, else what it saw, redacted on
// the agent.
func (e *Engine) recheckOnAgent(ctx context.Context, svc *strata.Service, env *strata.Environment, d *strata.Deployment, f plan.Facts) (*strata.HealthCheck, error) {
	rs, err := e.resolveFor(svc, env, d.Version, f)
	if err != nil {
		return nil, err
	}
	rs = reuseKept(rs, d.Config)
	rel, err := e.findRelease(ctx, d.Service, d.Version)
	if err != nil {
		return nil, err
	}
	j := &Job{Deployment: d.ID, Project: e.Project.Name, Service: d.Service, Environment: d.Environment, Version: d.Version,
		Kind: KindHealth, Task: strata.TaskHealth,
		Timeout: strata.Duration(svc.Health.Timeout), Config: map[string]any{}}
	j.carry(rel)
	if err := e.sealSecrets(j, svc, rs); err != nil {
		return nil, err
	}
	if j.Health, err = e.jobHealth(svc, rs); err != nil {
		return nil, err
	}
	if j.Health.Command == "" {
		j.Bundle = "" // a URL needs no file of the release
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("recheck %s: the job: %w", d.ID, err)
	}
	c := &strata.HealthCheck{Service: d.Service, Environment: d.Environment, Deployment: d.ID, Health: strata.Healthy, CheckedAt: e.now()}
	r := &strata.TaskRun{Service: d.Service, Environment: d.Environment, Task: strata.TaskHealth, Kind: strata.TaskHealth,
		State: strata.RunRunning, Requester: e.Actor, Pool: env.RunsOn, Job: b, CreatedAt: e.now()}
	got, err := e.runOnAgent(ctx, r)
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	switch {
	case err != nil:
		return nil, err
	case got.State == strata.RunSucceeded:
	case got.Output == strata.Unhealthy:
		c.Health, c.Detail = strata.Unhealthy, got.Error
	default: // it did not run to an answer
		return nil, fmt.Errorf("%s%s", got.Error, onAgent(got))
	}
	return c, nil
}

// HealthJob runs an agent's job of KindHealth in e (an engine as RunJob's): the health check
// the job carries, as Recheck runs it (recheckProbe), with the job's secrets opened by keys
// and, for a command, the release's recipe. Never a deployment: nothing else runs. The
// outcome's Output is strata.Healthy or strata.Unhealthy (its ExitCode 0 or 1), its Error
// what a failing check saw, redacted here; a check that could not run is failed with no
// Output (ExitCode -1).
func (e *Engine) HealthJob(ctx context.Context, j *Job, keys *secret.Vault) JobOutcome {
	exit := -1
	failed := func(why string) JobOutcome { return JobOutcome{State: strata.Failed, Error: why, ExitCode: &exit} }
	h := j.Health
	if h == nil {
		return failed(fmt.Sprintf("the health check job of %s in %s carries no check", j.Service, j.Environment))
	}
	rs, rel, why := e.openJob(ctx, j, keys)
	if why != "" {
		return failed(why)
	}
	secrets := secretValues(rs)
	d := &strata.Deployment{ID: j.Deployment, Service: j.Service, Environment: j.Environment, Version: j.Version, Attempt: 1}
	got := e.recheckProbe(ctx, e.jobProbe(h, d, rel, rs, secrets), time.Duration(h.Timeout), time.Duration(h.Interval))
	if ctx.Err() != nil {
		return failed(fmt.Sprintf("the check was stopped: %v", context.Cause(ctx)))
	}
	if got != "" {
		exit = 1
		return JobOutcome{State: strata.Failed, ExitCode: &exit, Output: strata.Unhealthy, Error: secret.Redact(got, secrets)}
	}
	exit = 0
	return JobOutcome{State: strata.Succeeded, ExitCode: &exit, Output: strata.Healthy}
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
