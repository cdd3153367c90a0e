package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

// Drift's observe step of a service in an environment with runs_on runs on an agent of the
// pool, which reaches the environment's network: a task run of kind observe, with its job
// (the command or URL, the config without secrets: an observe step gets none), queued for
// the pool. Drift waits for it a bounded time (WithAgentWait); when no agent claims it by then
// it is withdrawn (failed, never run) and the item says so. A health check run again
// (Recheck, recheck.go) waits for its agent the same way (runOnAgent).

// DefaultAgentWait is how long drift, or a health check run again, waits for an agent of a
// pool to claim the observe step or the check it queued.
const DefaultAgentWait = 30 * time.Second

// MaxAgentWait bounds what a drift or a switch may ask to wait (`--agent-wait`).
const MaxAgentWait = 10 * time.Minute

type agentWaitKey struct{}

// WithAgentWait returns ctx with how long work made with it waits for an agent of a pool to
// claim an observe step or a health check it queued (DefaultAgentWait without it).
func WithAgentWait(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, agentWaitKey{}, d)
}

func agentWait(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(agentWaitKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	return DefaultAgentWait
}

// waitedFor reports whether a run of kind is one a caller waits for a bounded time
// (runOnAgent): unclaimed past MaxAgentWait, nobody waits for it any more.
func waitedFor(kind string) bool {
	return kind == strata.TaskObserve || kind == strata.TaskHealth
}

// runOnAgent queues r, a run of a pool for a caller that waits a bounded time (an observe
// step, a health check), and waits for its agent's answer: at most agentWait(ctx) for a
// claim, then, once claimed, until it ends. Unclaimed by then it is withdrawn (failed, never
// run), compare-and-set on its claim, so that unless an agent took it just now no agent
// runs it later for no one; the error then says no agent answered. It returns r as its
// agent ended it (succeeded or failed); an error when it could not be queued, no agent
// answered, its agent died or ctx ended.
func (e *Engine) runOnAgent(ctx context.Context, r *strata.TaskRun) (*strata.TaskRun, error) {
	if err := e.Store.CreateTaskRun(ctx, r, nil); err != nil {
		return nil, err
	}
	wait := agentWait(ctx)
	got, err := e.awaitRun(ctx, r, wait)
	if strata.ErrorCode(err) == strata.EBLOCKED && got.Agent == "" && got.State == strata.RunRunning {
		// Withdrawn, unclaimed: no agent took it in time, or whoever asked stopped waiting
		// (an interrupted CLI, a request that ended). Nobody reads its answer any more.
		why := fmt.Sprintf("no agent of pool %s answered within %s", got.Pool, wait)
		if ctx.Err() != nil {
			why = fmt.Sprintf("withdrawn before an agent of pool %s claimed it: whoever asked stopped waiting (%v)", got.Pool, context.Cause(ctx))
		}
		got.State, got.Error, got.FinishedAt = strata.RunFailed, why, e.now()
		switch uerr := e.Store.UpdateTaskRun(context.WithoutCancel(ctx), got, nil); strata.ErrorCode(uerr) {
		case "":
			if ctx.Err() != nil {
				return got, err
			}
			return got, errors.New(why)
		case strata.ECONFLICT: // claimed meanwhile: wait for its answer, unless nobody waits
			if ctx.Err() != nil {
				return got, err
			}
			got, err = e.awaitRun(ctx, r, 0)
		default:
			return got, uerr
		}
	}
	if err != nil && got.State != strata.RunFailed {
		return got, err
	}
	return got, nil
}

// observeOnAgent has an agent of the pool of d's environment run svc's observe step for d,
// and returns the version it reports.
func (e *Engine) observeOnAgent(ctx context.Context, svc *strata.Service, d *strata.Deployment, rs *layer.Resolved, _ string) (string, error) {
	env := e.Project.Environment(d.Environment)
	ob := svc.Observe
	if rs == nil {
		return "", fmt.Errorf("the config does not resolve")
	}
	rs = withoutSecrets(rs)
	timeout := ob.Timeout
	if timeout <= 0 {
		timeout = observeTimeout
	}
	rel, err := e.Store.Release(ctx, d.Service, d.Version)
	if err != nil {
		return "", fmt.Errorf("release %s@%s: %w", d.Service, d.Version, err)
	}
	j := &Job{Deployment: d.ID, Project: e.Project.Name, Service: svc.Name, Environment: d.Environment, Version: d.Version,
		Kind: KindObserve, Task: strata.TaskObserve,
		Timeout: strata.Duration(timeout), Config: map[string]any{}}
	j.carry(rel)
	for k, v := range rs.Values {
		j.Config[k] = v
	}
	if ob.HTTP != "" {
		if j.ObserveURL, err = layer.Expand(e.Project, rs, ob.HTTP, ob.Pos); err != nil {
			return "", err
		}
		j.Bundle = "" // a URL needs no file of the release
	} else {
		cmd, err := layer.ExpandCommand(e.Project, rs, ob.Run, ob.Pos)
		if err != nil {
			return "", err
		}
		j.Command, j.CommandEnv = cmd.Text, cmd.Env
	}
	b, err := json.Marshal(j)
	if err != nil {
		return "", fmt.Errorf("the observe job: %w", err)
	}
	r := &strata.TaskRun{Service: svc.Name, Environment: d.Environment, Task: strata.TaskObserve, Kind: strata.TaskObserve,
		State: strata.RunRunning, Requester: e.Actor, Pool: env.RunsOn, Job: b, CreatedAt: e.now()}
	got, err := e.runOnAgent(ctx, r)
	if err != nil {
		return "", err
	}
	if got.State != strata.RunSucceeded {
		return "", fmt.Errorf("%s%s", got.Error, onAgent(got))
	}
	return got.Output, nil
}

// ObserveJob runs an agent's job of KindObserve in e (an engine as RunJob's): it GETs the
// URL or runs the command, from the release's recipe, and returns the version observed as
// the outcome's Output.
func (e *Engine) ObserveJob(ctx context.Context, j *Job) JobOutcome {
	exit := -1
	failed := func(why string) JobOutcome { return JobOutcome{State: strata.Failed, Error: why, ExitCode: &exit} }
	var got string
	var err error
	if j.ObserveURL != "" {
		got, err = observeHTTP(ctx, j.ObserveURL, time.Duration(j.Timeout))
	} else {
		rel := j.release()
		if why := e.verifyArtifacts(rel); why != "" {
			return failed(why)
		}
		rs := &layer.Resolved{Service: j.Service, Environment: j.Environment, Values: j.Config, Secret: map[string]bool{},
			Keys: slices.Sorted(maps.Keys(j.Config))}
		d := &strata.Deployment{ID: j.Deployment, Service: j.Service, Environment: j.Environment, Version: j.Version, Attempt: 1}
		scratch, serr := os.MkdirTemp("", "strata-observe-")
		if serr != nil {
			return failed(serr.Error())
		}
		defer os.RemoveAll(scratch)
		got, err = e.observeCommand(ctx, d, rel, rs, e.recipeCommand(rel, j.Command), j.CommandEnv, time.Duration(j.Timeout), scratch)
	}
	if err != nil {
		return failed(err.Error())
	}
	exit = 0
	return JobOutcome{State: strata.Succeeded, ExitCode: &exit, Output: got}
}
