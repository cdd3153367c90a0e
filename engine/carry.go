package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
)

// A promotion's worker deploys one environment after another. The outcome of a deployment
// that succeeded is recorded together with the claim of the worker's next one
// (Store.FinishAndCreate): one commit where there were two, which bench/stores still shows
// (a tenth to a fifth of a promotion on either store, issue 15). The outcome is still
// committed before it is announced, and before the promotion goes on; a crash before that
// commit leaves the deployment running with a dead owner, which resume runs again, as a
// crash just after the step would. Its lease is not renewed while it waits, which is only
// while the worker prepares its next deployment (or finds it has none): milliseconds against
// a lease of many seconds. A worker that runs out of environments records its last outcome
// at once, not at the end of the wave, for the same reason.
//
// All of it is the handover, one per worker: Deploy is given it (DeployRequest.handover) and
// claims through it; nothing else of the engine knows an outcome may wait.

// handover is a worker's succeeded deployment (or a failed one awaiting its rollback's
// claim) whose outcome is not recorded yet, if any. A nil *handover records every outcome
// at once.
type handover struct {
	e       *Engine
	pending *finished
}

// finished is a deployment that ended and whose outcome is not recorded yet: a success a
// worker carries to its next claim, or a failure carried to its rollback's claim.
type finished struct {
	d     *strata.Deployment
	event *strata.Event
	start time.Time // when its attempt began, for the progress line
	// err is where a failure to record it is reported: the deployment's own result.
	err *error
}

// newHandover returns a worker's handover.
func (e *Engine) newHandover() *handover { return &handover{e: e} }

// succeeded records d's success, or with h keeps it for the worker's next claim. err is
// where a failure to record it is reported.
func (h *handover) succeeded(ctx context.Context, e *Engine, d *strata.Deployment, start time.Time, err *error) {
	f := &finished{d: d, start: start, err: err,
		event: e.event("deployment.succeeded", d.Service, d.Environment, d.ID, map[string]any{"version": d.Version, "attempt": d.Attempt})}
	if h != nil {
		h.pending = f
		return
	}
	e.announceRecorded(f, e.Store.UpdateDeployment(context.WithoutCancel(ctx), f.d, f.event))
}

// reportTo makes err where a failure to record the waiting outcome is reported.
func (h *handover) reportTo(err *error) {
	if h != nil && h.pending != nil {
		h.pending.err = err
	}
}

// flush records the waiting outcome on its own, when there is one.
func (h *handover) flush(ctx context.Context) {
	if h == nil || h.pending == nil {
		return
	}
	f := h.pending
	h.pending = nil
	h.e.announceRecorded(f, h.e.Store.UpdateDeployment(context.WithoutCancel(ctx), f.d, f.event))
}

// create claims d (CreateDeployment), recording the waiting outcome in the same
// transaction when there is one: that outcome stands even when the claim is refused.
func (h *handover) create(ctx context.Context, e *Engine, d *strata.Deployment, ev *strata.Event) error {
	if h == nil || h.pending == nil || ctx.Err() != nil {
		h.flush(ctx)
		return e.Store.CreateDeployment(ctx, d, ev)
	}
	f := h.pending
	h.pending = nil
	err := e.Store.FinishAndCreate(context.WithoutCancel(ctx), f.d, f.event, d, ev)
	var refused *strata.ClaimError
	if errors.As(err, &refused) {
		// The outcome stands; the claim alone failed.
		e.announceRecorded(f, nil)
		return refused.Err
	}
	e.announceRecorded(f, err)
	if err != nil {
		// Nothing was written: claim on its own.
		return e.Store.CreateDeployment(ctx, d, ev)
	}
	return nil
}

// announceRecorded announces f once its outcome has committed, or reports why it could not be.
func (e *Engine) announceRecorded(f *finished, err error) {
	if err != nil {
		if f.err != nil {
			*f.err = fmt.Errorf("record %s: %w", f.d.ID, err)
		}
		return
	}
	if f.d.State != strata.Succeeded {
		return // a failure recorded with its rollback's claim (rollback.go) was said as it failed
	}
	e.logf("✓ %s → %s: %s succeeded in %s", f.d.Service, f.d.Environment, f.d.Version, time.Since(f.start).Round(time.Millisecond))
}
