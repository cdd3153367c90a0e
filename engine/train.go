package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// A release train is one promotion of several releases (Promotion.Members): one set of
// gates judged for every member (plan), one approval, and in each wave the members deploy
// in dependency order (plan.TrainOrder), each to every environment of the wave before the
// next starts. A failure halts the train: the members that had deployed in that wave are
// rolled back there (the failed one by its own rollback policy), and later waves do not run.

// members returns the releases promotion p moves: its members, or its one release.
func members(p *strata.Promotion) []strata.Member {
	if len(p.Members) > 0 {
		return p.Members
	}
	return []strata.Member{{Service: p.Service, Version: p.Version}}
}

// trainReleases resolves a train's releases: each member's (the newest when it names no
// version). EINVALID when a service is named twice; ENOTFOUND for an unknown service or
// version.
func (e *Engine) trainReleases(ctx context.Context, ms []strata.Member) ([]*strata.Release, error) {
	var rels []*strata.Release
	seen := map[string]bool{}
	for _, m := range ms {
		if e.Project.Service(m.Service) == nil {
			return nil, notFound("service", m.Service, e.Project.ServiceNames())
		}
		if seen[m.Service] {
			return nil, strata.Errorf(strata.EINVALID, "%s is named twice in the train; a train moves one release of each service", m.Service)
		}
		seen[m.Service] = true
		rel, err := e.findRelease(ctx, m.Service, m.Version)
		if err != nil {
			return nil, err
		}
		rels = append(rels, rel)
	}
	return rels, nil
}

// PromotionFactsOf gathers what the gates of promotion p read: promotionFacts of each of its
// members, merged.
func (e *Engine) PromotionFactsOf(ctx context.Context, p *strata.Promotion) (plan.Facts, error) {
	return e.trainFacts(ctx, members(p))
}

// trainFacts is promotionFacts of every member of a train, merged.
func (e *Engine) trainFacts(ctx context.Context, ms []strata.Member) (plan.Facts, error) {
	f, err := e.promotionFacts(ctx, ms[0].Service, ms[0].Version)
	if err != nil {
		return f, err
	}
	for _, m := range ms[1:] {
		g, err := e.promotionFacts(ctx, m.Service, m.Version)
		if err != nil {
			return f, err
		}
		for k, v := range g.Current {
			f.Current[k] = v
		}
		for k, v := range g.HealthySince {
			f.HealthySince[k] = v
		}
	}
	return f, nil
}

// deployTrainWave deploys every member of p to one wave, in dependency order; for a
// promotion of one release, that release. When a member fails, the members deployed before
// it in this wave are rolled back here, and the error says so.
func (e *Engine) deployTrainWave(ctx, fence context.Context, p *strata.Promotion, wave []string) ([]*strata.Deployment, error) {
	if len(p.Members) <= 1 {
		return e.deployWave(ctx, fence, p, members(p)[0], wave)
	}
	var all, landed []*strata.Deployment
	for _, m := range plan.TrainOrder(e.Project, p.Members) {
		if context.Cause(fence) != nil {
			break
		}
		ds, err := e.deployWave(ctx, fence, p, m, wave)
		all = append(all, ds...)
		if err == nil {
			landed = append(landed, ds...)
			continue
		}
		// The members that landed in this wave go back too: a train ships together or not
		// at all. Members of the failed release that landed in some environments of the wave
		// go back with them.
		for _, d := range ds {
			if d != nil && d.State == strata.Succeeded {
				landed = append(landed, d)
			}
		}
		e.logf("■ train %s: %s@%s failed in wave %v; rolling back the %d deployment(s) of the train there", p.ID, m.Service, m.Version, wave, len(landed))
		rbs, rbErr := e.rollbackTrain(ctx, p, landed)
		all = append(all, rbs...)
		return all, errors.Join(err, rbErr)
	}
	return all, nil
}

// rollbackTrain returns each pair of landed (newest first) to the release that ran there
// before the train: the last good one of another version. A pair with none is left as it
// is, and named in the error.
func (e *Engine) rollbackTrain(ctx context.Context, p *strata.Promotion, landed []*strata.Deployment) ([]*strata.Deployment, error) {
	ctx = context.WithoutCancel(ctx)
	var out []*strata.Deployment
	var errs []error
	for _, d := range slices.Backward(landed) {
		prev, err := e.lastGood(ctx, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev == nil {
			errs = append(errs, strata.Errorf(strata.EFAILED, "%s@%s stays in %s (%s): no earlier good release there to roll back to", d.Service, d.Version, d.Environment, d.ID))
			continue
		}
		e.logf("↺ %s → %s: rolling back the train's %s to %s", d.Service, d.Environment, d.Version, prev.Version)
		rb, err := e.Deploy(ctx, DeployRequest{Service: d.Service, Version: prev.Version, Env: d.Environment, Kind: KindRollback, RollbackOf: d.ID, SkipPolicy: true, PromotionID: p.ID})
		if rb != nil {
			out = append(out, rb)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("roll back %s in %s to %s: %w", d.Service, d.Environment, prev.Version, err))
		}
	}
	if len(errs) > 0 {
		return out, strata.Errorf(strata.EFAILED, "the train's rollback left some of it in place: %w", errors.Join(errs...))
	}
	return out, nil
}

// trainName names a promotion's releases: "web@1.1.0 + schema@8", or its one release.
func trainName(p *strata.Promotion) string {
	var s []string
	for _, m := range members(p) {
		s = append(s, m.Service+"@"+m.Version)
	}
	return strings.Join(s, " + ")
}

// trainTarget is target for a release train: every member resolved, the stage, the facts.
func (e *Engine) trainTarget(ctx context.Context, req PromoteRequest) (*strata.Release, *strata.Stage, plan.Facts, []strata.Member, error) {
	rels, err := e.trainReleases(ctx, req.Members)
	if err != nil {
		return nil, nil, plan.Facts{}, nil, err
	}
	st, f, err := e.targetStage(ctx, req, rels)
	if err != nil {
		return nil, nil, f, nil, err
	}
	var train []strata.Member
	for _, rel := range rels {
		train = append(train, strata.Member{Service: rel.Service, Version: rel.Version})
	}
	return rels[0], st, f, train, nil
}
