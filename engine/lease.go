package engine

import (
	"context"

	"github.com/strata-dev/strata"
)

// keepLease renews d's lease every third of the TTL until stopped. When the store says
// another owner holds it, or renewals fail until the lease lapses, it cancels ctx with
// errLeaseLost: the step's process group is killed (the worker fences itself) before anyone
// else may take the deployment over.
func (e *Engine) keepLease(ctx context.Context, d *strata.Deployment, cancel context.CancelCauseFunc) (stop func()) {
	// Read d once, here: the step's callbacks write *d (UpdateDeployment) while this runs.
	id, owner, until := d.ID, d.Owner, d.LeaseUntil
	return every(e.LeaseTTL/3, func() bool {
		if ctx.Err() != nil {
			return false
		}
		next := e.now().Add(e.LeaseTTL)
		err := e.Store.RenewLease(ctx, id, owner, next)
		switch {
		case err == nil:
			until = next
		case strata.ErrorCode(err) == strata.ECONFLICT || !e.now().Before(until.Add(-e.LeaseTTL/6)):
			cancel(errLeaseLost)
			return false
		}
		return true
	})
}
