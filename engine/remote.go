package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
)

// A deployment of an environment that runs_on a pool is not run here: it is recorded
// pending for the pool with its job (job.go), an agent of the pool claims and runs it and
// reports its outcome, and this process waits for that outcome and then applies the
// rollback policy as it does for a step it ran itself. So a promotion keeps its waves, its
// lease and its halting rule, whoever runs the steps.

// AgentGone is how long an agent may go unseen and still count as connected: an idle one
// asks for work at least every 25 seconds, a busy one renews its lease every third of it.
const AgentGone = time.Minute

// awaitPoll is how often a waiting process reads the deployment an agent runs.
const awaitPoll = 250 * time.Millisecond

// resolveFor resolves svc's config in env: without the environment's secrets when its steps
// run on an agent, which opens them with a key only its host holds, so that this process
// never reads an identity it need not have.
func (e *Engine) resolveFor(svc *strata.Service, env *strata.Environment, version string, f plan.Facts) (*layer.Resolved, error) {
	if env.RunsOn == "" {
		return e.resolve(svc, env.Name, version, f)
	}
	bare := *e
	bare.Secrets, bare.ServiceSecrets = nil, nil
	return bare.resolve(svc, env.Name, version, f)
}

// toPool makes d a deployment for env's pool: pending, owned by no one, with the job its
// agent will run.
func (e *Engine) toPool(d *strata.Deployment, env *strata.Environment, svc *strata.Service, rs *layer.Resolved, rel *strata.Release) error {
	j, err := e.newJob(d, svc, rs, rel)
	if err != nil {
		return err
	}
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("deploy %s@%s to %s: the job: %w", d.Service, d.Version, d.Environment, err)
	}
	d.Pool, d.Job, d.State = env.RunsOn, b, strata.Pending
	d.Owner, d.LeaseUntil, d.StartedAt = strata.Owner{}, time.Time{}, time.Time{}
	return nil
}

// PoolDetail says why a pending deployment of pool waits: "waiting for an agent of pool X",
// and "; none connected" when no agent of the pool has been seen within seen.
func PoolDetail(ctx context.Context, s strata.AgentStore, pool string, now time.Time, seen time.Duration) string {
	msg := "waiting for an agent of pool " + pool
	as, err := s.Agents(ctx)
	if err != nil {
		return msg
	}
	for _, a := range as {
		if a.Pool == pool && now.Sub(a.LastSeen) < seen {
			return msg
		}
	}
	return msg + "; none connected"
}

// await waits until the agent that runs d reports, then applies svc's rollback policy to a
// failure, as execute does for a step this process ran.
func (e *Engine) await(ctx context.Context, d *strata.Deployment, svc *strata.Service) (*strata.Deployment, error) {
	e.logf("… %s → %s: %s %s", d.Service, d.Environment, d.ID, PoolDetail(ctx, e.Store, d.Pool, e.now(), AgentGone))
	start := time.Now()
	claimed := int64(0)
	e.Wakes.pending().Wake() // d is pending: a claim held in this process takes it at once
	for {
		woken := e.Wakes.reported().Wait() // before the read: a report after it wakes this wait
		got, err := e.Store.Deployment(ctx, d.ID)
		if err != nil {
			if ctx.Err() != nil {
				return d, e.stoppedWaiting(ctx, d)
			}
			return d, fmt.Errorf("wait for %s: %w", d.ID, err)
		}
		d = got
		if !strata.Active(d.State) {
			break
		}
		if d.Fence > claimed {
			claimed = d.Fence
			e.logf("  %s/%s | agent %s runs %s (attempt %d)", d.Service, d.Environment, d.Agent, d.ID, d.Attempt)
		}
		select {
		case <-ctx.Done():
			return d, e.stoppedWaiting(ctx, d)
		case <-woken:
		case <-time.After(awaitPoll):
		}
	}
	if d.State == strata.Succeeded {
		e.logf("✓ %s → %s: %s succeeded on agent %s in %s", d.Service, d.Environment, d.Version, d.Agent, time.Since(start).Round(time.Millisecond))
		return d, nil
	}
	if svc.Rollback == "previous" && d.Kind != KindRollback {
		if prev, err := e.lastGood(ctx, d); err == nil && prev != nil {
			// fail records it rolled back (the agent recorded it failed) and runs the
			// rollback, which goes to the pool in turn.
			return e.fail(ctx, d, svc, d.Error)
		}
	}
	e.logf("✗ %s → %s: %s %s on agent %s: %s", d.Service, d.Environment, d.Version, d.State, d.Agent, d.Error)
	return d, &strata.Error{Code: strata.EFAILED, Message: fmt.Sprintf("%s@%s failed in %s (%s, on agent %s): %s", d.Service, d.Version, d.Environment, d.ID, d.Agent, d.Error)}
}

// stoppedWaiting is the error of a process that stopped waiting for d: d itself goes on, for
// an agent of its pool.
func (e *Engine) stoppedWaiting(ctx context.Context, d *strata.Deployment) error {
	return strata.Errorf(strata.EBLOCKED, "stopped waiting for %s (%s@%s to %s): %v; it stays with pool %s, whose agent runs it: `strata history %s --env %s` shows how it ends",
		d.ID, d.Service, d.Version, d.Environment, context.Cause(ctx), d.Pool, d.Service, d.Environment)
}
