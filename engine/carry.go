package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
)

// A promotion's worker deploys one environment after another. The outcome of a deployment
// that succeeded is recorded together with the claim of the worker's next one
// (Store.FinishAndCreate): one commit where there were two, the largest part of what a
// deployment of a no-op step cost. The outcome is still committed before it is announced,
// and before the promotion goes on; a crash before that commit leaves the deployment
// running with a dead owner, which resume runs again, as a crash just after the step would.
// Its lease is not renewed while it waits, which is only while the worker prepares its next
// deployment (or finds it has none): milliseconds against a lease of many seconds. A worker
// that runs out of environments records its last outcome at once, not at the end of the
// wave, for the same reason.

// finished is a deployment that succeeded and whose outcome is not recorded yet.
type finished struct {
	d     *strata.Deployment
	event *strata.Event
	start time.Time // when its attempt began, for the progress line
	// err is where a failure to record it is reported: the deployment's own result.
	err *error
}

// keep returns d's success as a finished outcome to record later.
func (e *Engine) keep(d *strata.Deployment, start time.Time) *finished {
	return &finished{d: d, start: start,
		event: e.event("deployment.succeeded", d.Service, d.Environment, d.ID, map[string]any{"version": d.Version, "attempt": d.Attempt})}
}

// announceRecorded announces f once its outcome has committed, or reports why it could not be.
func (e *Engine) announceRecorded(f *finished, err error) {
	if err != nil {
		if f.err != nil {
			*f.err = fmt.Errorf("record %s: %w", f.d.ID, err)
		}
		return
	}
	e.logf("✓ %s → %s: %s succeeded in %s", f.d.Service, f.d.Environment, f.d.Version, time.Since(f.start).Round(time.Millisecond))
}

// flush records *prev on its own, when there is one left.
func (e *Engine) flush(ctx context.Context, prev **finished) {
	if prev == nil || *prev == nil {
		return
	}
	f := *prev
	*prev = nil
	e.announceRecorded(f, e.Store.UpdateDeployment(context.WithoutCancel(ctx), f.d, f.event))
}

// create claims d, recording *prev in the same transaction when there is one: its outcome
// stands even when the claim is refused.
func (e *Engine) create(ctx context.Context, d *strata.Deployment, ev *strata.Event, prev **finished) error {
	if prev == nil || *prev == nil || ctx.Err() != nil {
		e.flush(ctx, prev)
		return e.Store.CreateDeployment(ctx, d, ev)
	}
	f := *prev
	*prev = nil
	claimErr, err := e.Store.FinishAndCreate(context.WithoutCancel(ctx), f.d, f.event, d, ev)
	e.announceRecorded(f, err)
	if err != nil {
		// Nothing was written: claim on its own.
		return e.Store.CreateDeployment(ctx, d, ev)
	}
	return claimErr
}
