package engine

import (
	"context"
	"errors"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/step"
)

// Ownership is one rule for deployments and promotions alike (DESIGN.md section 7): the
// running work records its owner (host, process id, process start time) and a lease the
// owner renews. On the owner's own host a dead process means the work was interrupted at
// once; elsewhere an expired lease does. An owner that cannot renew stops its own work (it
// fences itself) before anyone else may take it over.

// alive reports whether owner o, whose lease runs until until, still runs its work: on this
// host, its process (same pid and start time) lives; elsewhere, its lease has not lapsed. No
// owner (a row written before it had one) is gone.
func (e *Engine) alive(o strata.Owner, until time.Time) bool {
	if o.Host == "" {
		return false
	}
	if o.Host == e.Owner.Host {
		return step.Alive(o)
	}
	return e.now().Before(until)
}

// ownerAlive reports whether an active deployment's owner still runs it.
func (e *Engine) ownerAlive(d *strata.Deployment) bool {
	if d.Pool != "" {
		// A deployment of a pool is never interrupted here: whoever runs it is an agent,
		// and when its lease lapses the next agent of the pool claims it (ClaimJob).
		return true
	}
	// An interrupted deployment's owner is whoever took it over to resume it: judged like
	// any owner, or a second resume would take it from a live first one and run it twice.
	return e.alive(d.Owner, d.LeaseUntil)
}

// promotionOwnerAlive reports whether a running promotion's owner still runs it.
func (e *Engine) promotionOwnerAlive(p *strata.Promotion) bool {
	return e.alive(p.Owner, p.LeaseUntil)
}

// keepLease renews d's lease every third of the TTL until stopped; see renewEvery.
func (e *Engine) keepLease(ctx context.Context, d *strata.Deployment, cancel context.CancelCauseFunc) (stop func()) {
	// Read d once, here: the step's callbacks write *d (UpdateDeployment) while this runs.
	id, owner, until := d.ID, d.Owner, d.LeaseUntil
	return e.renewEvery(ctx, until, cancel, errLeaseLost, func(next time.Time) error {
		return e.Store.RenewLease(ctx, id, owner, next)
	})
}

// ErrLeaseLost is the cause KeepLease cancels its context with: the worker fenced itself.
var ErrLeaseLost = errLeaseLost

// KeepLease renews a lease that runs until until with renew, every third of e.LeaseTTL,
// until stopped: an agent keeps its claim with it, by the rule a local run keeps its own
// (renewEvery). When renew says another holds the work (ECONFLICT), or renewals fail until
// the lease is about to lapse, it cancels ctx with ErrLeaseLost, so that the step stops
// before anyone else may take the work over.
func (e *Engine) KeepLease(ctx context.Context, until time.Time, cancel context.CancelCauseFunc, renew func(next time.Time) error) (stop func()) {
	return e.renewEvery(ctx, until, cancel, errLeaseLost, renew)
}

var errPromotionLeaseLost = errors.New("lost the promotion's lease; another worker may take the promotion over")

// keepPromotionLease renews a running promotion's lease every third of the TTL until
// stopped; see renewEvery. Losing it cancels the promotion's run, and with it the steps of
// the deployments it is running.
func (e *Engine) keepPromotionLease(ctx context.Context, p *strata.Promotion, cancel context.CancelCauseFunc) (stop func()) {
	id, owner, until := p.ID, p.Owner, p.LeaseUntil
	return e.renewEvery(ctx, until, cancel, errPromotionLeaseLost, func(next time.Time) error {
		return e.Store.RenewPromotionLease(ctx, id, owner, next)
	})
}

// renewEvery calls renew with a new lease end every third of the TTL until stopped. A
// renewal that fails is tried again soon (renewWait), not a third of the TTL later. When the
// store says another owner holds the work (ECONFLICT), or no renewal has succeeded by the
// time the lease is a sixth of the TTL from lapsing, it cancels ctx with lost: the work
// stops (the worker fences itself) before anyone else may take it over. That point has a
// timer of its own, so a renewal that hangs (a link that drops packets) cannot carry the
// worker past it.
func (e *Engine) renewEvery(ctx context.Context, until time.Time, cancel context.CancelCauseFunc, lost error, renew func(next time.Time) error) (stop func()) {
	fenceIn := func(u time.Time) time.Duration { return max(u.Add(-e.LeaseTTL/6).Sub(e.now()), 0) }
	guard := time.AfterFunc(fenceIn(until), func() { cancel(lost) })
	stopRenew := after(e.LeaseTTL/3, func() (time.Duration, bool) {
		if ctx.Err() != nil {
			return 0, false
		}
		next := e.now().Add(e.LeaseTTL)
		err := renew(next)
		if err == nil {
			until = next
			guard.Reset(fenceIn(until))
		}
		wait, fence := renewWait(e.now(), until, e.LeaseTTL, err)
		if fence {
			cancel(lost)
			return 0, false
		}
		return wait, true
	})
	return func() {
		stopRenew()
		guard.Stop()
	}
}

// renewWait says, after a renewal that ended with err at now, of a lease that runs until
// until, how long to wait before renewing again, or that the worker must fence itself: the
// store said another holds the work, or the lease is a sixth of ttl from lapsing. After a
// success the wait is a third of ttl; after a failure a fifteenth (a short network cut
// costs one quick retry, not a third of the lease), and never past that fencing point, so
// the worker stops its work before the lease lapses rather than at the next renewal.
func renewWait(now, until time.Time, ttl time.Duration, err error) (wait time.Duration, fence bool) {
	if err == nil {
		return ttl / 3, false
	}
	fenceAt := until.Add(-ttl / 6)
	if strata.ErrorCode(err) == strata.ECONFLICT || !now.Before(fenceAt) {
		return 0, true
	}
	return min(max(ttl/15, time.Millisecond), fenceAt.Sub(now)), false
}
