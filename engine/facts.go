package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// Each command reads only the facts it judges by. Facts (every succeeded deployment ever
// made) is left to the views that show when each version ran healthy where: a promotion that
// read it cost O(whole history) before it deployed anything, and a stage of n environments
// whose deployments each read it cost O(n²). A view that judges a waiting promotion's gates
// reads PromotionFacts, as the promotion itself does.

// PromotionFacts gathers what the gates of a promotion of service@version read, and no more
// (promotionFacts): judged on them, a promotion's gates are those Facts would give, at the
// cost of that release's history rather than of every deployment ever made.
func (e *Engine) PromotionFacts(ctx context.Context, service, version string) (plan.Facts, error) {
	return e.promotionFacts(ctx, service, version)
}

// promotionFacts gathers what the gates of a promotion of service@version read (plan.Gates
// and plan.NextStage): when that version first ran healthy in each environment, what runs of
// service's depends_on services in each environment (the dependencies gate), the freezes,
// and whether the release is recalled. Other versions' history is not read, nor other services'.
func (e *Engine) promotionFacts(ctx context.Context, service, version string) (plan.Facts, error) {
	f := e.noFacts()
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Service: service, Version: version, States: []string{strata.Succeeded}})
	if err != nil {
		return f, fmt.Errorf("read deployments of %s@%s: %w", service, version, err)
	}
	e.addHealthy(f, ds)
	if err := e.readRecall(ctx, f, service, version); err != nil {
		return f, err
	}
	if svc := e.Project.Service(service); svc != nil {
		for _, dep := range svc.DependsOn {
			if err := e.readCurrent(ctx, f, strata.DeploymentFilter{Service: dep}); err != nil {
				return f, err
			}
		}
	}
	return f, e.readFreezes(ctx, f)
}

// deployFacts gathers what one deployment of svc to env depends on: what runs of svc's
// dependencies in env, and the freezes when withFreezes (a promotion has judged them
// already). A promotion calls Deploy once per environment, so this reads only those pairs.
func (e *Engine) deployFacts(ctx context.Context, svc *strata.Service, env string, withFreezes bool) (plan.Facts, error) {
	f := e.noFacts()
	for _, dep := range svc.DependsOn {
		d, err := e.running(ctx, dep, env)
		if err != nil {
			return f, err
		}
		if d != nil {
			f.Current[plan.Pair{Service: dep, Environment: env}] = d
		}
	}
	if !withFreezes {
		return f, nil
	}
	return f, e.readFreezes(ctx, f)
}

// currentFacts gathers what runs in each pair of env ("" for every environment), and no
// freezes: what Destroy and Drift resolve configuration with.
func (e *Engine) currentFacts(ctx context.Context, env string) (plan.Facts, error) {
	f := e.noFacts()
	return f, e.readCurrent(ctx, f, strata.DeploymentFilter{Environment: env})
}

// running returns what runs of service in env, its newest succeeded deployment; nil when
// nothing does.
func (e *Engine) running(ctx context.Context, service, env string) (*strata.Deployment, error) {
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Service: service, Environment: env, States: []string{strata.Succeeded}, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("read deployments of %s in %s: %w", service, env, err)
	}
	if len(ds) == 0 || e.stale(ds[0]) {
		return nil, nil
	}
	return ds[0], nil
}

// readCurrent adds to f.Current what runs in each pair sel's Service and Environment select
// ("" for every one): one row a pair, however long its history.
func (e *Engine) readCurrent(ctx context.Context, f plan.Facts, sel strata.DeploymentFilter) error {
	sel.States, sel.Latest = []string{strata.Succeeded}, true
	ds, err := e.Store.Deployments(ctx, sel)
	if err != nil {
		return fmt.Errorf("read what runs (service %q, environment %q): %w", sel.Service, sel.Environment, err)
	}
	e.addCurrent(f, ds)
	return nil
}

// addCurrent records in f.Current the first deployment of each pair in ds, which lists
// succeeded deployments newest first.
func (e *Engine) addCurrent(f plan.Facts, ds []*strata.Deployment) {
	for _, d := range ds {
		k := plan.Pair{Service: d.Service, Environment: d.Environment}
		if f.Current[k] == nil && !e.stale(d) {
			f.Current[k] = d
		}
	}
}

// addHealthy records in f.HealthySince when each version in ds, which lists succeeded
// deployments newest first, first ran healthy in each pair.
func (e *Engine) addHealthy(f plan.Facts, ds []*strata.Deployment) {
	for _, d := range ds {
		if d.Health == strata.Unhealthy || e.stale(d) {
			continue
		}
		k := plan.Pair{Service: d.Service, Environment: d.Environment}
		if f.HealthySince[k] == nil {
			f.HealthySince[k] = map[string]time.Time{}
		}
		f.HealthySince[k][d.Version] = d.FinishedAt // older ones overwrite: the earliest wins
	}
}

// stale reports whether d was made in an earlier short-lived environment of the same name
// as one the project has now (Environment.Predates).
func (e *Engine) stale(d *strata.Deployment) bool {
	return e.Project.Environment(d.Environment).Predates(d)
}

// noFacts returns facts at the engine's clock that hold nothing yet.
func (e *Engine) noFacts() plan.Facts {
	return plan.Facts{
		Now:          e.now(),
		Current:      map[plan.Pair]*strata.Deployment{},
		HealthySince: map[plan.Pair]map[string]time.Time{},
		Frozen:       map[string]*strata.Freeze{},
		Recalls:      map[plan.Ref]*strata.Recall{},
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
