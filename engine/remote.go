package engine

import (
	"context"
	"encoding/json"
	"errors"
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
// agent will run. With rollback: previous, the job carries the rollback a failure asks for
// (rollbackJob), so that the failure and its rollback are recorded together by whichever
// server the agent reports to, whether or not this process still waits then.
func (e *Engine) toPool(ctx context.Context, d *strata.Deployment, env *strata.Environment, svc *strata.Service, rs *layer.Resolved, rel *strata.Release, f plan.Facts) error {
	j, err := e.newJob(d, svc, rs, rel)
	if err != nil {
		return err
	}
	if svc.Rollback == "previous" && d.Kind != KindRollback {
		if j.Rollback, err = e.rollbackJob(ctx, d, env, svc, f); err != nil {
			return err
		}
	}
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("deploy %s@%s to %s: the job: %w", d.Service, d.Version, d.Environment, err)
	}
	d.Pool, d.Job, d.State = env.RunsOn, b, strata.Pending
	d.Owner, d.LeaseUntil, d.StartedAt = strata.Owner{}, time.Time{}, time.Time{}
	return nil
}

// rollbackJob is the rollback of d, a deployment of a pool, should it fail: to the last
// good release there (lastGood; nil when there is none), with the config that release ran
// with, as fail and Deploy would make it then. The pair is d's until d ends, so nothing
// that deploys meanwhile changes what the last good release is.
func (e *Engine) rollbackJob(ctx context.Context, d *strata.Deployment, env *strata.Environment, svc *strata.Service, f plan.Facts) (*RollbackJob, error) {
	prev, err := e.lastGood(ctx, d)
	if err != nil || prev == nil {
		return nil, err
	}
	rel, err := e.Store.Release(ctx, d.Service, prev.Version)
	if err != nil {
		return nil, fmt.Errorf("the rollback of %s in %s to %s: %w", d.Service, d.Environment, prev.Version, err)
	}
	rs, err := e.resolveFor(svc, env, rel.Version, f)
	if err != nil {
		return nil, err
	}
	rs = reuseKept(rs, prev.Config)
	rb := &strata.Deployment{Service: d.Service, Environment: d.Environment, Version: rel.Version, Kind: KindRollback}
	j, err := e.newJob(rb, svc, rs, rel)
	if err != nil {
		return nil, err
	}
	return &RollbackJob{Version: rel.Version, ReleaseID: rel.ID, Config: rs.Redacted(), ConfigHash: configHash(rs), Job: j}, nil
}

// Reported records an agent's report of d: d holds the outcome and, as its Owner, the
// claim the report is about, so that a report of an older claim matches nothing (ECONFLICT).
// A failure whose job carries its rollback is recorded rolled back, and the rollback,
// pending for the pool, is recorded in the same transaction: it is asked for once, by the
// report, whether the process that asked for d still waits (it then waits for the
// rollback) or died. It returns the rollback, nil when there is none.
func (e *Engine) Reported(ctx context.Context, d *strata.Deployment, ev *strata.Event) (*strata.Deployment, error) {
	var rj *RollbackJob
	if d.State == strata.Failed && d.Pool != "" && d.Kind != KindRollback {
		b, err := e.Store.Job(ctx, d.ID)
		if err != nil {
			return nil, fmt.Errorf("record the failure of %s: %w", d.ID, err)
		}
		if j, err := ParseJob(b); err == nil {
			rj = j.Rollback
		}
	}
	if rj == nil || rj.Job == nil {
		return nil, e.Store.UpdateDeployment(ctx, d, ev)
	}
	job, err := json.Marshal(rj.Job)
	if err != nil {
		return nil, fmt.Errorf("the rollback of %s: %w", d.ID, err)
	}
	d.State = strata.RolledBack
	ev.Action = "deployment." + strata.RolledBack
	rb := &strata.Deployment{
		Service: d.Service, Environment: d.Environment, Version: rj.Version, ReleaseID: rj.ReleaseID,
		State: strata.Pending, Attempt: 1, Kind: KindRollback, PromotionID: d.PromotionID, RollbackOf: d.ID,
		Actor: d.Actor, Config: rj.Config, ConfigHash: rj.ConfigHash, Pool: d.Pool, Job: job, CreatedAt: e.now(),
	}
	rbEv := &strata.Event{Actor: ev.Actor, Action: "rollback", Service: d.Service, Environment: d.Environment,
		Detail: mustJSON(map[string]any{"version": rb.Version, "kind": KindRollback, "promotion": d.PromotionID, "rollback_of": d.ID, "automatic": true})}
	err = e.Store.FinishAndCreate(ctx, d, ev, rb, rbEv)
	if ce := (*strata.ClaimError)(nil); errors.As(err, &ce) {
		// d's write stands (rolled back) without its rollback. Not expected: d held the
		// pair until this very transaction, so nothing else could take it meanwhile.
		return nil, fmt.Errorf("%s failed; its rollback to %s was not recorded: %w", d.ID, rj.Version, ce.Err)
	}
	if err != nil {
		return nil, err
	}
	e.logf("↺ %s → %s: %s failed on agent %s; rolling back to %s (%s), for pool %s", d.Service, d.Environment, d.ID, d.Agent, rb.Version, rb.ID, rb.Pool)
	e.queued()
	return rb, nil
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
	if e.Log != nil { // a server's engine logs nothing: no need to read the agents for it
		e.logf("… %s → %s: %s %s", d.Service, d.Environment, d.ID, PoolDetail(ctx, e.Store, d.Pool, e.now(), AgentGone))
	}
	start := time.Now()
	claimed := int64(0)
	e.queued() // d is pending: a claim held in this or another process takes it at once
	reported, done := e.Wakes.awaitReport(d.ID)
	defer done()
	for {
		woken := reported.Wait() // before the read: a report after it wakes this wait
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
	if d.State == strata.RolledBack {
		return e.awaitRollback(ctx, d, svc)
	}
	if svc.Rollback == "previous" && d.Kind != KindRollback && !e.hasRollback(ctx, d) {
		// A job made without its rollback (by an older version): this process applies
		// the policy, as it used to.
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

// hasRollback reports whether d's job carries the rollback its failure asks for (or
// cannot be read: the report recorded d, and this process does not roll it back blindly).
func (e *Engine) hasRollback(ctx context.Context, d *strata.Deployment) bool {
	b, err := e.Store.Job(ctx, d.ID)
	if err != nil {
		return true
	}
	j, err := ParseJob(b)
	return err == nil && j.Rollback != nil
}

// awaitRollback waits for the rollback the report of d's failure recorded (Reported) and
// says how d ended, as fail does for a step this process ran.
func (e *Engine) awaitRollback(ctx context.Context, d *strata.Deployment, svc *strata.Service) (*strata.Deployment, error) {
	e.logf("✗ %s → %s: %s %s on agent %s: %s", d.Service, d.Environment, d.Version, d.State, d.Agent, d.Error)
	msg := fmt.Sprintf("%s@%s failed in %s (%s, on agent %s): %s", d.Service, d.Version, d.Environment, d.ID, d.Agent, d.Error)
	// The pair's newest: the rollback took the pair as d let it go. Not by time: the server
	// that recorded it may run another clock than this process.
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Service: d.Service, Environment: d.Environment, Limit: 16})
	if err != nil {
		return d, &strata.Error{Code: strata.EFAILED, Message: msg + "; its rollback could not be read", Err: err}
	}
	var rb *strata.Deployment
	for _, x := range ds {
		if x.RollbackOf == d.ID {
			rb = x
		}
	}
	if rb == nil {
		return d, strata.Errorf(strata.EFAILED, "%s; its rollback is not in the store", msg)
	}
	e.logf("↺ %s → %s: rolling back to %s", d.Service, d.Environment, rb.Version)
	if _, err := e.await(ctx, rb, svc); err != nil {
		if strata.ErrorCode(err) == strata.EBLOCKED {
			return d, strata.Errorf(strata.EFAILED, "%s; rolling back to %s (%s): %w", msg, rb.Version, rb.ID, err)
		}
		return d, strata.Errorf(strata.EFAILED, "%s; the rollback to %s failed too: %w", msg, rb.Version, err)
	}
	return d, strata.Errorf(strata.EFAILED, "%s; rolled back to %s (%s)", msg, rb.Version, rb.ID)
}
