package engine

import (
	"context"
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
// Each destroy is audited ("destroy", or "destroy.failed" for the step that failed).
func (e *Engine) Destroy(ctx context.Context, env string) ([]string, error) {
	if e.Project.Environment(env) == nil {
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
	cmd, err := layer.ExpandCommand(p, rs, svc.Destroy.Run, svc.Destroy.Pos, &layer.Runtime{Version: d.Version})
	if err != nil {
		return fmt.Errorf("destroy %s in %s: %w", svc.Name, d.Environment, err)
	}
	env := append(e.stepEnv(&d, rel, rs, "", ""), cmd.Env...)
	out := e.stepOutput(svc.Name+"/"+d.Environment, "destroy", nil, secretValues(rs)...)
	timeout := svc.Destroy.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	res, err := e.runStep(ctx, step.Spec{Name: "destroy", Command: cmd.Text, Dir: e.Project.Dir, Env: env, Timeout: timeout, Output: out})
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
