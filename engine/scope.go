package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// StageOf returns the stage promotion p deploys into: its stage narrowed to the environments
// it names (p.Only). EINVALID when strata.yaml no longer has the stage, or no longer has one of
// those environments in it.
func (e *Engine) StageOf(p *strata.Promotion) (*strata.Stage, error) {
	st := e.Project.Stage(p.Stage)
	if st == nil {
		return nil, strata.Errorf(strata.EINVALID, "promotion %s targets stage %q, which strata.yaml no longer has", p.ID, p.Stage)
	}
	n, err := plan.Narrow(st, p.Only)
	if err != nil {
		return nil, fmt.Errorf("promotion %s: %w", p.ID, err)
	}
	return n, nil
}

// PromotionRequest returns what plan judges of promotion p into st (StageOf).
func (e *Engine) PromotionRequest(p *strata.Promotion, st *strata.Stage) plan.Request {
	return plan.Request{
		Kind: plan.KindPromotion, ID: p.ID, Service: p.Service, Version: p.Version, Stage: st, Members: p.Members,
		// Who overrode the windows is in the audit log: it need not be the requester.
		Requester: p.Requester, Approvals: p.Approvals, Override: p.Override, Reason: p.Reason,
	}
}

// OpenedPromotion is the error of a `deploy` to an environment whose policy needs approvals,
// which only a promotion collects: the deploy opened (or found) a promotion of the release
// into that one environment (its stage narrowed to it), which runs on approval. It wraps the
// promotion's EBLOCKED waiting error, so the exit status is 3.
type OpenedPromotion struct {
	Result *PromotionResult
	Err    error
}

func (o *OpenedPromotion) Error() string { return o.Err.Error() }
func (o *OpenedPromotion) Unwrap() error { return o.Err }

// deployStage is the stage whose promotion collects the approvals of a deploy to env: the
// first stage of the pipeline that selects env, else env's own stage ("env:NAME").
func (e *Engine) deployStage(env string) string {
	if st := e.Project.StageOf(env); st != nil {
		return st.Name
	}
	return strata.EnvStagePrefix + env
}

// promoteInstead opens a promotion of rel into env alone (or finds the open one) for a deploy
// whose approvals gate is closed. When that promotion runs now (its approvals were given
// since it was opened), its deployment to env is returned; else an *OpenedPromotion.
func (e *Engine) promoteInstead(ctx context.Context, rel *strata.Release, env string) (*strata.Deployment, error) {
	stage := e.deployStage(env)
	e.logf("%s needs approvals, which only a promotion collects: promoting %s@%s to %s, only %s", env, rel.Service, rel.Version, stage, env)
	res, err := e.Promote(ctx, PromoteRequest{Service: rel.Service, Version: rel.Version, To: stage, Only: []string{env}})
	if res == nil {
		return nil, err
	}
	if res.Promotion.State == strata.Waiting || res.Promotion.State == strata.Running && len(res.Deployments) == 0 {
		if err == nil {
			err = strata.Errorf(strata.EBLOCKED, "promotion %s of %s@%s to %s is %s", res.Promotion.ID, rel.Service, rel.Version, stage, res.Promotion.State)
		}
		return nil, &OpenedPromotion{Result: res, Err: fmt.Errorf("deploy of %s@%s to %s opened a promotion: %w", rel.Service, rel.Version, env, err)}
	}
	i := slices.IndexFunc(res.Deployments, func(d *strata.Deployment) bool { return d != nil && d.Environment == env && d.Service == rel.Service })
	if i < 0 {
		return nil, errors.Join(err, strata.Errorf(strata.EFAILED, "promotion %s of %s@%s to %s ended %s without deploying to %s", res.Promotion.ID, rel.Service, rel.Version, stage, res.Promotion.State, env))
	}
	return res.Deployments[i], err
}
