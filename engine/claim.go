package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
)

// claim records d and takes its (service, environment), waiting for a holder to finish
// unless noWait. A holder whose process is gone is reported, not waited for. The outcome
// waiting in h, when there is one, is recorded with the first try. reason, when not empty,
// is said in the event.
func (e *Engine) claim(ctx context.Context, d *strata.Deployment, noWait bool, h *handover, reason string) error {
	announced := false
	for {
		action := "deploy"
		if d.Kind == KindRollback {
			action = "rollback"
		}
		detail := map[string]any{"version": d.Version, "kind": d.Kind, "promotion": d.PromotionID, "rollback_of": d.RollbackOf}
		if reason != "" {
			detail["reason"] = reason
		}
		ev := e.event(action, d.Service, d.Environment, "", detail)
		err := h.create(ctx, e, d, ev)
		if err == nil {
			return nil
		}
		if strata.ErrorCode(err) != strata.EBLOCKED {
			return fmt.Errorf("start deployment of %s@%s to %s: %w", d.Service, d.Version, d.Environment, err)
		}
		d.ID = ""
		holder := e.holder(ctx, d.Service, d.Environment)
		if holder != nil && !e.ownerAlive(holder) {
			return strata.Errorf(strata.EBLOCKED, "%s (%s@%s to %s) was interrupted: its process is gone; `strata resume` runs it again", holder.ID, holder.Service, holder.Version, holder.Environment)
		}
		if noWait {
			return err
		}
		if !announced && holder != nil {
			e.logf("… %s → %s: waiting for %s (%s@%s, attempt %d) to finish", d.Service, d.Environment, holder.ID, holder.Service, holder.Version, holder.Attempt)
			announced = true
		}
		select {
		case <-ctx.Done():
			return strata.Errorf(strata.EBLOCKED, "gave up waiting for %s to finish: %w", d.Environment, context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (e *Engine) holder(ctx context.Context, service, env string) *strata.Deployment {
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Service: service, Environment: env, States: []string{strata.Pending, strata.Running, strata.Interrupted}, Limit: 1})
	if err != nil || len(ds) == 0 {
		return nil
	}
	return ds[0]
}
