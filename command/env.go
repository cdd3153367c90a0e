package command

import (
	"context"
	"slices"

	"github.com/strata-dev/strata"
	cfg "github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/report"
)

// authorizeCreateEnv checks the principal may deploy to both the environment the new one
// is like and the new one itself (its labels may differ, and a token's selectors match
// labels).
func authorizeCreateEnv(ctx context.Context, x Site, req report.EnvCreateRequest) error {
	if req.Like == "" {
		return nil // CreateEnv says --like is required
	}
	if err := x.Allow(ctx, deploy, req.Like); err != nil {
		return err
	}
	trial, err := x.Changes(ctx)
	if err != nil {
		return err
	}
	if err := cfg.AddEphemeral(trial.Project, &strata.EphemeralEnv{Name: req.Name, Like: req.Like, Labels: req.Labels}); err != nil {
		return nil // CreateEnv says what is wrong with it
	}
	return x.AllowIn(ctx, trial.Project, deploy, req.Name)
}

// createEnv makes a short-lived environment like a declared one and publishes it.
func createEnv(ctx context.Context, x Site, req report.EnvCreateRequest) (*report.Ephemeral, error) {
	e, err := x.Changes(ctx)
	if err != nil {
		return nil, err
	}
	doc, err := report.CreateEnv(ctx, e, req)
	if err != nil {
		return doc, err
	}
	if env := e.Project.Environment(req.Name); env != nil {
		x.Publish(func(p *strata.Project) {
			if p.Environment(env.Name) == nil {
				p.Environments = append(p.Environments, env)
			}
		})
	}
	return doc, nil
}

// destroyEnv runs the destroy steps of what runs in a short-lived environment, then
// forgets it.
func destroyEnv(ctx context.Context, x Site, req report.EnvDestroyRequest) (*report.Destroyed, error) {
	e, err := x.Changes(ctx)
	if err != nil {
		return nil, err
	}
	doc, err := report.DestroyEnv(ctx, e, req.Name)
	if doc != nil && doc.Forgotten {
		x.Publish(func(p *strata.Project) {
			p.Environments = slices.DeleteFunc(p.Environments, func(env *strata.Environment) bool {
				return env.Ephemeral && env.Name == req.Name
			})
		})
	}
	return doc, err
}
