package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// promotionsOf returns, once each and in order, the promotions that interrupted deployments
// belong to. A promotion runs its deployments in its own process, so when one of them was
// interrupted the promotion's runner died too, and nobody else will finish it.
func promotionsOf(ds []*strata.Deployment) []string {
	var ids []string
	for _, d := range ds {
		if d.PromotionID != "" && !slices.Contains(ids, d.PromotionID) {
			ids = append(ids, d.PromotionID)
		}
	}
	return ids
}

// finishPromotions carries on promotions whose runner died, once their interrupted
// deployments have been resumed: a failed deployment fails the promotion; otherwise the
// environments it has not deployed yet run, wave by wave, then the next auto stage. Without
// this a crashed promotion stays running forever, and a new promotion of the same release to
// the same stage returns it instead of running.
func (e *Engine) finishPromotions(ctx context.Context, ids []string) ([]*PromotionResult, error) {
	var out []*PromotionResult
	var errs []error
	for _, id := range ids {
		res, err := e.finishPromotion(ctx, id)
		if res != nil {
			out = append(out, res.Chain()...)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func (e *Engine) finishPromotion(ctx context.Context, id string) (*PromotionResult, error) {
	p, err := e.Store.Promotion(ctx, id)
	if err != nil || p.State != strata.Running {
		return nil, err
	}
	st := e.Project.Stage(p.Stage)
	if st == nil {
		return nil, nil
	}
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{PromotionID: id})
	if err != nil {
		return nil, fmt.Errorf("finish promotion %s: %w", id, err)
	}
	done := map[string]bool{}
	res := &PromotionResult{Promotion: p, Deployments: []*strata.Deployment{}}
	var failed []string
	for _, d := range ds {
		if d.Kind != KindPromotion || d.RollbackOf != "" {
			continue // a rollback the promotion caused
		}
		switch {
		case strata.Active(d.State):
			return nil, nil // still running (or resumed elsewhere): its runner finishes it
		case d.State == strata.Succeeded:
			done[d.Environment] = true
			res.Deployments = append(res.Deployments, d)
		default:
			failed = append(failed, fmt.Sprintf("%s in %s: %s", d.ID, d.Environment, d.State))
			res.Deployments = append(res.Deployments, d)
		}
	}
	if len(failed) > 0 {
		p.State, p.Error, p.UpdatedAt = strata.Failed, "after an interruption: "+fmt.Sprint(failed), e.now()
		if err := e.Store.UpdatePromotion(ctx, p, e.event("promotion.failed", p.Service, "", p.ID, map[string]any{"version": p.Version, "stage": p.Stage, "error": p.Error})); err != nil {
			return nil, fmt.Errorf("record promotion %s: %w", p.ID, err)
		}
		e.announce(p, promotionEvent(p, res.Deployments))
		return res, strata.Errorf(strata.EFAILED, "promotion %s of %s@%s to %s failed: %s", p.ID, p.Service, p.Version, p.Stage, p.Error)
	}
	for _, wave := range plan.Waves(st) {
		var left []string
		for _, env := range wave {
			if !done[env] {
				left = append(left, env)
			}
		}
		if len(left) > 0 {
			res.Waves = append(res.Waves, left)
		}
	}
	e.logf("↻ %s@%s → %s: carrying on promotion %s", p.Service, p.Version, p.Stage, p.ID)
	return res, e.run(ctx, res, st)
}
