package command

import (
	"context"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// The commands that change something run package report's operation on the site's engine,
// whose actor is the principal. On a server, Authorize has first checked the principal
// covers every environment the change touches, and the change runs in a context that a
// client hanging up does not cancel.

// release builds a service once, records the release and lands it in the auto stages.
func release(ctx context.Context, x Site, req report.ReleaseRequest) (*report.Release, error) {
	e, err := x.Engine(ctx)
	if err != nil {
		return nil, err
	}
	if err := report.NeedService(e.Project, req.Service); err != nil {
		return nil, err
	}
	return report.CutRelease(ctx, e, req)
}

// allowStage checks action on every environment of the stage req would go to. Plan names
// the stage (the next one when none is given) and changes nothing, so the check comes
// before anything is recorded.
func allowStage(ctx context.Context, x Site, action string, req report.PromoteRequest) error {
	e, err := x.Engine(ctx)
	if err != nil {
		return err
	}
	pl, err := e.Plan(ctx, req.Engine())
	if err != nil {
		return err
	}
	return x.Allow(ctx, action, promotionEnvs(e.Project, pl.Promotion)...)
}

// promotionEnvs is the environments promotion p may change: those it names (Only), else
// its stage's.
func promotionEnvs(proj *strata.Project, p *strata.Promotion) []string {
	if len(p.Only) > 0 {
		return p.Only
	}
	return stageEnvs(proj, p.Stage)
}

// authorizePromote checks the principal may deploy to the target stage, and administer
// when it overrides a window.
func authorizePromote(ctx context.Context, x Site, req report.PromoteRequest) error {
	if err := allowStage(ctx, x, deploy, req); err != nil {
		return err
	}
	if req.OverrideWindow {
		return x.Allow(ctx, admin)
	}
	return nil
}

// authorizeRollback checks the principal may roll back in the environment: deploy there;
// to override a freeze (break glass) approve there as well, so that a deployer alone cannot
// break the freeze an admin set (of today's roles, only admin does both: an approver does
// not deploy); to override a deploy window, administer, as a promotion's override does.
func authorizeRollback(ctx context.Context, x Site, req report.RollbackRequest) error {
	if err := x.Allow(ctx, deploy, req.Env); err != nil {
		return err
	}
	if req.OverrideFreeze {
		if err := x.Allow(ctx, approve, req.Env); err != nil {
			return err
		}
	}
	if req.OverrideWindow {
		return x.Allow(ctx, admin, req.Env)
	}
	return nil
}

// decidable checks the principal may approve or reject promotion id: it covers every
// environment the promotion may change (promotionEnvs).
func decidable(ctx context.Context, x Site, id string) error {
	s, err := x.Store(ctx)
	if err != nil {
		return err
	}
	p, err := s.Promotion(ctx, id)
	if err != nil {
		return err
	}
	proj, err := x.Project(ctx)
	if err != nil {
		return err
	}
	return x.Allow(ctx, strata.ActApprove, promotionEnvs(proj, p)...)
}
