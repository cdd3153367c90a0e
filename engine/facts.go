package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// deployFacts gathers what one deployment of svc to env depends on: what runs of svc's
// dependencies in env, and the freezes when withFreezes (a promotion has judged them
// already). A promotion calls Deploy once per environment, so this reads only those pairs;
// Facts reads every succeeded deployment ever made, which made a stage of n environments
// cost O(n²) rows.
func (e *Engine) deployFacts(ctx context.Context, svc *strata.Service, env string, withFreezes bool) (plan.Facts, error) {
	f := e.noFacts()
	for _, dep := range svc.DependsOn {
		ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Service: dep, Environment: env, States: []string{strata.Succeeded}, Limit: 1})
		if err != nil {
			return f, fmt.Errorf("read deployments of %s in %s: %w", dep, env, err)
		}
		if len(ds) > 0 {
			f.Current[plan.Pair{Service: dep, Environment: env}] = ds[0]
		}
	}
	if !withFreezes {
		return f, nil
	}
	return f, e.readFreezes(ctx, f)
}

// noFacts returns facts at the engine's clock that hold nothing yet.
func (e *Engine) noFacts() plan.Facts {
	return plan.Facts{
		Now:          e.now(),
		Current:      map[plan.Pair]*strata.Deployment{},
		HealthySince: map[plan.Pair]map[string]time.Time{},
		Frozen:       map[string]*strata.Freeze{},
	}
}

// readFreezes reads every freeze into f.Frozen.
func (e *Engine) readFreezes(ctx context.Context, f plan.Facts) error {
	fr, err := e.Store.Freezes(ctx)
	if err != nil {
		return fmt.Errorf("read freezes: %w", err)
	}
	for _, x := range fr {
		f.Frozen[x.Environment] = x
	}
	return nil
}
