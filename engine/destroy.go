package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/step"
)

// Destroy runs the destroy step of every service that runs in env, in reverse dependency
// order, and returns the services it destroyed. A service without a destroy step is left.
// Each destroy is audited ("destroy", or "destroy.failed" for the step that failed). In an
// environment with runs_on each step runs on an agent of its pool (destroyOnAgent), one
// after the other: the next is asked for once the one before succeeded.
func (e *Engine) Destroy(ctx context.Context, env string) ([]string, error) {
	return e.destroy(ctx, env, 0)
}

// destroy is Destroy; claimWithin, when not 0, bounds how long a destroy step of a pool
// waits for an agent to claim it (a scheduler's pass does not wait for an absent agent).
func (e *Engine) destroy(ctx context.Context, env string, claimWithin time.Duration) ([]string, error) {
	environment := e.Project.Environment(env)
	if environment == nil {
		return nil, notFound("environment", env, e.Project.EnvironmentNames())
	}
	f, err := e.currentFacts(ctx, env)
	if err != nil {
		return nil, err
	}
	order := e.Project.DependencyOrder(nil)
	slices.Reverse(order)
	var done []string
	for _, svc := range order {
		cur := f.Current[plan.Pair{Service: svc.Name, Environment: env}]
		if cur == nil || svc.Destroy == nil {
			continue
		}
		rel, err := e.Store.Release(ctx, svc.Name, cur.Version)
		if err != nil {
			return done, err
		}
		if environment.RunsOn != "" {
			if err := e.destroyOnAgent(ctx, svc, environment, cur, rel, f, claimWithin); err != nil {
				return done, err
			}
			done = append(done, svc.Name)
			continue
		}
		if err := e.ensureBundle(ctx, rel); err != nil {
			return done, fmt.Errorf("destroy %s in %s: %w", svc.Name, env, err)
		}
		rs, err := e.resolve(svc, env, cur.Version, f)
		if err != nil {
			return done, err
		}
		if err := e.destroyStep(ctx, e.Project, svc, cur, rel, rs); err != nil {
			return done, err
		}
		done = append(done, svc.Name)
	}
	return done, nil
}

// destroyStep runs svc's destroy step for what cur deployed, with the config rs, resolved in
// project p (the engine's, or one that still holds a retired environment), and audits it
// ("destroy", or "destroy.failed").
func (e *Engine) destroyStep(ctx context.Context, p *strata.Project, svc *strata.Service, cur *strata.Deployment, rel *strata.Release, rs *layer.Resolved) error {
	d := *cur
	cmd, err := layer.ExpandCommand(p, rs, svc.Destroy.Run, svc.Destroy.Pos)
	if err != nil {
		return fmt.Errorf("destroy %s in %s: %w", svc.Name, d.Environment, err)
	}
	env := append(e.stepEnv(&d, rel, rs, "", ""), cmd.Env...)
	out := e.stepOutput(svc.Name+"/"+d.Environment, "destroy", nil, secretValues(rs)...)
	res, err := e.runStep(ctx, step.Spec{Name: "destroy", Command: cmd.Text, Dir: e.Project.Dir, Env: env, Timeout: destroyTimeout(svc), Output: out})
	out.Flush()
	if err == nil && res.ExitCode != 0 {
		err = strata.Errorf(strata.EFAILED, "destroy step exited with status %d", res.ExitCode)
	}
	if err != nil {
		ev := e.event("destroy.failed", svc.Name, d.Environment, d.ID, map[string]any{"version": d.Version, "error": err.Error()})
		if aerr := e.Store.AppendEvent(ctx, ev); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return fmt.Errorf("destroy %s in %s: %w", svc.Name, d.Environment, err)
	}
	if err := e.Store.AppendEvent(ctx, e.event("destroy", svc.Name, d.Environment, d.ID, map[string]any{"version": d.Version})); err != nil {
		return fmt.Errorf("record the destroy of %s in %s: %w", svc.Name, d.Environment, err)
	}
	return nil
}

// destroyTimeout is how long svc's destroy step may run.
func destroyTimeout(svc *strata.Service) time.Duration {
	if svc.Destroy.Timeout > 0 {
		return svc.Destroy.Timeout
	}
	return 10 * time.Minute
}

// destroyOnAgent has an agent of env's pool run svc's destroy step for what cur deployed: a
// task run of kind destroy, with its job (the step as ExpandCommand makes it, the config
// cur's release resolves to without secrets, sealed secrets, the release's bundle), and waits
// for it. A destroy of the pair already asked for and not ended (by a process that stopped
// waiting, or an earlier scheduler pass) is waited for rather than asked for again, and one
// that succeeded since cur was deployed counts as done. Its
// outcome is audited by the server that records the agent's report ("destroy" or
// "destroy.failed").
func (e *Engine) destroyOnAgent(ctx context.Context, svc *strata.Service, env *strata.Environment, cur *strata.Deployment, rel *strata.Release, f plan.Facts, claimWithin time.Duration) error {
	runs, err := e.Store.TaskRuns(ctx, strata.TaskRunFilter{Service: svc.Name, Environment: env.Name, States: []string{strata.RunRunning, strata.RunSucceeded}})
	if err != nil {
		return fmt.Errorf("destroy %s in %s: %w", svc.Name, env.Name, err)
	}
	var r *strata.TaskRun
	for _, x := range runs { // newest first
		if x.Kind != strata.TaskDestroy || x.CreatedAt.Before(cur.CreatedAt) {
			continue
		}
		if x.State == strata.RunSucceeded {
			// An agent ran it after the process that asked stopped waiting (a scheduler
			// pass bounds its wait): it is done, and is not run a second time.
			return nil
		}
		r = x
		break
	}
	if r == nil {
		rs, err := e.resolveFor(svc, env, cur.Version, f)
		if err != nil {
			return err
		}
		j := &Job{Deployment: cur.ID, Project: e.Project.Name, Service: svc.Name, Environment: env.Name, Version: cur.Version,
			Kind: KindDestroy, Task: strata.TaskDestroy,
			Timeout: strata.Duration(destroyTimeout(svc)), Config: map[string]any{}}
		j.carry(rel)
		if err := e.sealSecrets(j, svc, rs); err != nil {
			return err
		}
		cmd, err := layer.ExpandCommand(e.Project, rs, svc.Destroy.Run, svc.Destroy.Pos)
		if err != nil {
			return fmt.Errorf("destroy %s in %s: %w", svc.Name, env.Name, err)
		}
		j.Command, j.CommandEnv = cmd.Text, cmd.Env
		b, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("destroy %s in %s: the job: %w", svc.Name, env.Name, err)
		}
		r = &strata.TaskRun{Service: svc.Name, Environment: env.Name, Task: strata.TaskDestroy, Kind: strata.TaskDestroy,
			State: strata.RunRunning, Requester: e.Actor, Pool: env.RunsOn, Job: b, CreatedAt: e.now()}
		ev := e.event("destroy.request", svc.Name, env.Name, cur.ID, map[string]any{"version": cur.Version, "pool": env.RunsOn})
		if err := e.Store.CreateTaskRun(ctx, r, ev); err != nil {
			return fmt.Errorf("destroy %s in %s: %w", svc.Name, env.Name, err)
		}
	}
	_, err = e.awaitRun(ctx, r, claimWithin)
	if err != nil {
		return fmt.Errorf("destroy %s in %s: %w", svc.Name, env.Name, err)
	}
	return nil
}
