package engine

import (
	"context"
	"fmt"

	"github.com/strata-dev/strata"
)

// fail records a failed attempt and applies the rollback policy.
func (e *Engine) fail(ctx context.Context, d *strata.Deployment, svc *strata.Service, failure string) (*strata.Deployment, error) {
	ctx = context.WithoutCancel(ctx)
	d.Error = failure
	var prev *strata.Deployment
	var lookErr error // why the rollback policy could not be applied, when it could not
	if svc.Rollback == "previous" && d.Kind != KindRollback {
		prev, lookErr = e.lastGood(ctx, d)
	}
	d.State = strata.Failed
	if prev != nil {
		d.State = strata.RolledBack
	}
	ev := e.event("deployment."+d.State, d.Service, d.Environment, d.ID, map[string]any{"version": d.Version, "attempt": d.Attempt, "error": failure})
	msg := fmt.Sprintf("%s@%s failed in %s (%s): %s", d.Service, d.Version, d.Environment, d.ID, failure)
	if prev == nil {
		if err := e.Store.UpdateDeployment(ctx, d, ev); err != nil {
			return d, fmt.Errorf("record %s: %w", d.ID, err)
		}
		e.logf("✗ %s → %s: %s %s: %s", d.Service, d.Environment, d.Version, d.State, failure)
		switch {
		case lookErr != nil:
			// Wrapped, not flattened: the store's code stays readable behind EFAILED.
			return d, &strata.Error{Code: strata.EFAILED, Message: msg + "; not rolled back", Err: lookErr}
		case svc.Rollback == "previous" && d.Kind != KindRollback:
			msg += "; no earlier good release there to roll back to"
		}
		return d, &strata.Error{Code: strata.EFAILED, Message: msg}
	}
	// The failure is recorded with the rollback's claim, in one transaction (the handover's
	// FinishAndCreate): recorded on its own first, a crash before the claim would leave the
	// environment on the failed release with nothing to resume. A rollback that fails
	// before its claim leaves the failure to be recorded on its own (flush).
	var recorded error
	h := &handover{e: e, pending: &finished{d: d, event: ev, err: &recorded}}
	e.logf("✗ %s → %s: %s %s: %s", d.Service, d.Environment, d.Version, d.State, failure)
	e.logf("↺ %s → %s: rolling back to %s", d.Service, d.Environment, prev.Version)
	rb, err := e.Deploy(ctx, DeployRequest{Service: d.Service, Version: prev.Version, Env: d.Environment, Kind: KindRollback, RollbackOf: d.ID, SkipPolicy: true, PromotionID: d.PromotionID, handover: h})
	var rbRecorded error
	if h.pending != nil && h.pending.d != d {
		h.reportTo(&rbRecorded) // the rollback's own success, kept for a claim that will not come
	}
	h.flush(ctx)
	if err == nil && rbRecorded != nil {
		err = rbRecorded
	}
	if recorded != nil {
		return d, recorded
	}
	if err != nil {
		return d, strata.Errorf(strata.EFAILED, "%s; the rollback to %s failed too: %w", msg, prev.Version, err)
	}
	return d, strata.Errorf(strata.EFAILED, "%s; rolled back to %s (%s)", msg, prev.Version, rb.ID)
}

// lastGood is the newest healthy deployment of another version in d's pair, of a release
// that is not recalled, made in the environment as it is now: a deployment made in an earlier short-lived environment of the
// same name (stale) ran somewhere else. The pair's succeeded history is read newest first, a
// page at a time, each page eight times the last (the filter has no cursor, so a page reads
// the earlier ones again); the first page usually holds the answer, and reading stops at the
// first stale deployment, since every older one is stale too.
func (e *Engine) lastGood(ctx context.Context, d *strata.Deployment) (*strata.Deployment, error) {
	f := strata.DeploymentFilter{Service: d.Service, Environment: d.Environment, States: []string{strata.Succeeded}}
	seen := 0
	for f.Limit = 8; ; f.Limit *= 8 {
		ds, err := e.Store.Deployments(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("find the last good release of %s in %s: %w", d.Service, d.Environment, err)
		}
		for _, x := range ds[min(seen, len(ds)):] {
			if e.stale(x) {
				return nil, nil
			}
			if x.ID != d.ID && x.Version != d.Version && x.Health != strata.Unhealthy {
				if bad, err := e.recalled(ctx, x.Service, x.Version); err != nil || bad {
					if err != nil {
						return nil, err
					}
					continue // never back to a recalled release
				}
				return x, nil
			}
		}
		if len(ds) < f.Limit {
			return nil, nil
		}
		seen = len(ds)
	}
}

// RollbackRequest asks to go back to an earlier release of a service in an environment.
type RollbackRequest struct {
	Service string
	Env     string
	To      string // "" for the previous good release there
	// OverrideWindow opens closed deploy windows, OverrideFreeze a freeze; Reason says why.
	OverrideWindow bool
	OverrideFreeze bool
	Reason         string
}

// Rollback redeploys the previous good release of a service in an environment (or req.To)
// as a deployment of kind rollback. A rollback someone asks for passes plan's rollback gates:
// no approvals (it returns to a release that ran there), but a freeze and the deploy windows
// hold it unless overridden, with a reason that the audit log keeps. The automatic rollback
// after a failed deployment (fail) is not judged: it undoes what that deployment just did.
func (e *Engine) Rollback(ctx context.Context, service, env, toVersion string) (*strata.Deployment, error) {
	return e.RollbackWith(ctx, RollbackRequest{Service: service, Env: env, To: toVersion})
}

// RollbackWith is Rollback with overrides.
func (e *Engine) RollbackWith(ctx context.Context, req RollbackRequest) (*strata.Deployment, error) {
	service, env, toVersion := req.Service, req.Env, req.To
	if _, _, err := e.lookup(service, env); err != nil {
		return nil, err
	}
	if toVersion == "" {
		_, to, err := e.RollbackTarget(ctx, service, env)
		if err != nil {
			return nil, err
		}
		toVersion = to
	}
	return e.Deploy(ctx, DeployRequest{Service: service, Version: toVersion, Env: env, Kind: KindRollback,
		OverrideWindow: req.OverrideWindow, OverrideFreeze: req.OverrideFreeze, Reason: req.Reason})
}

// RollbackTarget returns the version service runs in env and the previous good one, which
// Rollback without a version goes back to (the dashboard shows both before it asks).
func (e *Engine) RollbackTarget(ctx context.Context, service, env string) (from, to string, err error) {
	if _, _, err := e.lookup(service, env); err != nil {
		return "", "", err
	}
	cur, err := e.running(ctx, service, env)
	if err != nil {
		return "", "", err
	}
	if cur == nil {
		return "", "", strata.Errorf(strata.EINVALID, "%s has never run successfully in %s; there is nothing to roll back to", service, env)
	}
	prev, err := e.lastGood(ctx, cur)
	if err != nil {
		return "", "", err
	}
	if prev == nil {
		return "", "", strata.Errorf(strata.EINVALID, "%s in %s runs %s and has no earlier good release (one that ran there healthy and is not recalled); name one with --to", service, env, cur.Version)
	}
	return cur.Version, prev.Version, nil
}
