package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// A running promotion is owned, like a deployment, by the process that runs it (lease.go).
// When that process dies (kill -9, a lost machine) anywhere between the promotion's first
// commit and its last, nobody else would finish it: it would stay running forever, and a new
// promotion of the same release to the same stage would return it instead of running.
// Resume and the scheduler therefore take over each running promotion whose owner is gone,
// once its own deployments have ended (the interrupted ones are resumed first), and carry it
// on: its gates were judged when it started and are not judged again; the environments it
// has deployed are not deployed again.

// Stranded returns the running promotions whose owner is gone, oldest first: on this host
// its process died; elsewhere its lease lapsed.
func (e *Engine) Stranded(ctx context.Context) ([]*strata.Promotion, error) {
	ps, err := e.Store.Promotions(ctx, strata.PromotionFilter{States: []string{strata.Running}})
	if err != nil {
		return nil, fmt.Errorf("find running promotions: %w", err)
	}
	var out []*strata.Promotion
	for i := len(ps) - 1; i >= 0; i-- {
		if !e.promotionOwnerAlive(ps[i]) {
			out = append(out, ps[i])
		}
	}
	return out, nil
}

// finishPromotions carries on every stranded promotion (see above) and returns each with
// the promotions it chained into.
func (e *Engine) finishPromotions(ctx context.Context) ([]*PromotionResult, error) {
	ps, err := e.Stranded(ctx)
	if err != nil {
		return nil, err
	}
	var out []*PromotionResult
	var errs []error
	for _, p := range ps {
		res, err := e.finishPromotion(ctx, p)
		if res != nil {
			out = append(out, res.Chain()...)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// finishPromotion takes p over from its gone owner and carries it on: a failed deployment
// fails it; otherwise the environments it has not deployed yet run, wave by wave, then the
// next auto stage. It leaves p alone (nil, nil) while one of its deployments is still active
// (whoever runs or resumes it finishes first) or when another worker took p over first.
func (e *Engine) finishPromotion(ctx context.Context, p *strata.Promotion) (*PromotionResult, error) {
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{PromotionID: p.ID})
	if err != nil {
		return nil, fmt.Errorf("carry on promotion %s: %w", p.ID, err)
	}
	// An environment is done when every release of the promotion landed there (one, but for
	// a train); a train's environment left half done runs again whole: deploy steps are
	// idempotent.
	landed := map[string]int{}
	res := &PromotionResult{Promotion: p, Deployments: []*strata.Deployment{}}
	var failed []string
	for _, d := range ds {
		if d.Kind != KindPromotion || d.RollbackOf != "" {
			continue // a rollback the promotion caused
		}
		switch {
		case strata.Active(d.State):
			return nil, nil
		case d.State == strata.Succeeded:
			landed[d.Environment]++
			res.Deployments = append(res.Deployments, d)
		default:
			failed = append(failed, fmt.Sprintf("%s in %s: %s", d.ID, d.Environment, d.State))
			res.Deployments = append(res.Deployments, d)
		}
	}
	// Compare and set: of several workers that found its owner gone, one carries it on.
	from, until := p.Owner, e.now().Add(e.LeaseTTL)
	ev := e.event("promotion.interrupted", p.Service, "", p.ID, map[string]any{"version": p.Version, "stage": p.Stage, "owner": from.ID()})
	if err := e.Store.TakeOverPromotion(ctx, p.ID, from, e.Owner, until, ev); err != nil {
		if strata.ErrorCode(err) == strata.ECONFLICT {
			return nil, nil
		}
		return nil, fmt.Errorf("take over promotion %s: %w", p.ID, err)
	}
	p.Owner, p.LeaseUntil = e.Owner, until
	done := map[string]bool{}
	for env, n := range landed {
		done[env] = n >= len(members(p))
	}
	st, err := e.StageOf(p)
	if err != nil {
		failed = append(failed, err.Error())
	}
	if len(failed) > 0 {
		p.State, p.Error, p.UpdatedAt = strata.Failed, "after an interruption: "+fmt.Sprint(failed), e.now()
		if err := e.Store.UpdatePromotion(ctx, p, e.endEvent(p, res.Deployments)); err != nil {
			return nil, fmt.Errorf("record promotion %s: %w", p.ID, err)
		}
		e.announce(p, promotionEvent(p, res.Deployments))
		return res, strata.Errorf(strata.EFAILED, "promotion %s of %s@%s to %s failed: %s", p.ID, p.Service, p.Version, p.Stage, p.Error)
	}
	res.Gates = []plan.Gate{}
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
	e.logf("↻ %s@%s → %s: carrying on promotion %s, interrupted with %d environment(s) deployed", p.Service, p.Version, p.Stage, p.ID, len(done))
	return res, e.run(ctx, res, st)
}
