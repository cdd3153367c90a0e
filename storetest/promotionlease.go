package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// leaseEnd is a lease far enough ahead that no store's clock reaches it during the suite.
var leaseEnd = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

// runningPromotion records a running promotion of api@1.0 to prod owned by o.
func runningPromotion(t *testing.T, s strata.Store, o strata.Owner) *strata.Promotion {
	t.Helper()
	p := &strata.Promotion{Service: "api", Version: "1.0", Stage: "prod", State: strata.Running, Requester: "alice",
		Owner: o, LeaseUntil: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	must(t, s.CreatePromotion(ctx(t), p, &strata.Event{Actor: "alice", Action: "promote"}))
	return p
}

// testPromotionLeases: a running promotion has an owner and a lease, by the same rule as a
// deployment's, so that when its runner dies another worker takes it over exactly once and
// the old runner, should it come back, can no longer write it.
func testPromotionLeases(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a running promotion is recorded with its owner and lease, a waiting one with none", func(t *testing.T) {
		s := open(t)
		p := runningPromotion(t, s, owner(1))
		got, err := s.Promotion(ctx(t), p.ID)
		must(t, err)
		if got.Owner != owner(1) || !sameTime(got.LeaseUntil, p.LeaseUntil) {
			t.Errorf("running: owner %+v until %v, want %+v until %v", got.Owner, got.LeaseUntil, owner(1), p.LeaseUntil)
		}
		w := &strata.Promotion{Service: "api", Version: "2.0", Stage: "prod", State: strata.Waiting, Requester: "alice",
			Owner: owner(1), LeaseUntil: leaseEnd}
		must(t, s.CreatePromotion(ctx(t), w, nil))
		got, err = s.Promotion(ctx(t), w.ID)
		must(t, err)
		if got.Owner != (strata.Owner{}) || !got.LeaseUntil.IsZero() {
			t.Errorf("waiting: owner %+v until %v, want none", got.Owner, got.LeaseUntil)
		}
	})

	t.Run("the owner renews its lease", func(t *testing.T) {
		s := open(t)
		p := runningPromotion(t, s, owner(1))
		must(t, s.RenewPromotionLease(ctx(t), p.ID, owner(1), leaseEnd))
		got, err := s.Promotion(ctx(t), p.ID)
		must(t, err)
		if !sameTime(got.LeaseUntil, leaseEnd) {
			t.Errorf("lease = %v, want %v", got.LeaseUntil, leaseEnd)
		}
	})

	t.Run("a renewal that does not come from the running promotion's owner is refused", func(t *testing.T) {
		s := open(t)
		ended := runningPromotion(t, s, owner(1))
		ended.State = strata.Succeeded
		must(t, s.UpdatePromotion(ctx(t), ended, nil))
		waiting := &strata.Promotion{Service: "api", Version: "2.0", Stage: "prod", State: strata.Waiting, Requester: "alice"}
		must(t, s.CreatePromotion(ctx(t), waiting, nil))
		held := &strata.Promotion{Service: "api", Version: "3.0", Stage: "prod", State: strata.Running, Requester: "alice", Owner: owner(1), LeaseUntil: leaseEnd}
		must(t, s.CreatePromotion(ctx(t), held, nil))
		for _, c := range []struct {
			name  string
			id    string
			owner strata.Owner
			want  string
		}{
			{"another owner's renewal is a conflict", held.ID, owner(2), strata.ECONFLICT},
			{"a renewal by no owner is a conflict", held.ID, strata.Owner{}, strata.ECONFLICT},
			{"renewing an ended promotion is a conflict", ended.ID, owner(1), strata.ECONFLICT},
			{"renewing a waiting promotion is a conflict", waiting.ID, owner(1), strata.ECONFLICT},
			{"renewing an unknown promotion is not found", "p-nope", owner(1), strata.ENOTFOUND},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, s.RenewPromotionLease(ctx(t), c.id, c.owner, leaseEnd), c.want)
			})
		}
	})

	t.Run("a take-over moves the promotion to its new owner, is audited, and fences the old one", func(t *testing.T) {
		s := open(t)
		p := runningPromotion(t, s, owner(1))
		e := &strata.Event{Actor: "scheduler", Action: "promotion.takeover"}
		must(t, s.TakeOverPromotion(ctx(t), p.ID, owner(1), owner(2), leaseEnd, e))
		got, err := s.Promotion(ctx(t), p.ID)
		must(t, err)
		if got.State != strata.Running || got.Owner != owner(2) || !sameTime(got.LeaseUntil, leaseEnd) {
			t.Fatalf("after take-over: %s owned by %+v until %v; want running owned by %+v until %v",
				got.State, got.Owner, got.LeaseUntil, owner(2), leaseEnd)
		}
		if e.Subject != p.ID || e.Hash == "" {
			t.Errorf("take-over event: subject %q hash %q, want an appended event about %s", e.Subject, e.Hash, p.ID)
		}
		wantCode(t, s.RenewPromotionLease(ctx(t), p.ID, owner(1), leaseEnd), strata.ECONFLICT)
		stale := *p
		stale.State, stale.Owner = strata.Failed, owner(1)
		wantCode(t, s.UpdatePromotion(ctx(t), &stale, nil), strata.ECONFLICT)
		if got, _ := s.Promotion(ctx(t), p.ID); got.State != strata.Running {
			t.Fatalf("the old owner's write went through: state %s", got.State)
		}
		got.State = strata.Succeeded
		must(t, s.UpdatePromotion(ctx(t), got, nil))
		got, err = s.Promotion(ctx(t), p.ID)
		must(t, err)
		if got.State != strata.Succeeded || got.Owner != (strata.Owner{}) || !got.LeaseUntil.IsZero() {
			t.Errorf("after the new owner finished: %s owned by %+v until %v; want succeeded and owned by no one", got.State, got.Owner, got.LeaseUntil)
		}
	})

	t.Run("a take-over that does not start from the current owner of a running promotion is refused", func(t *testing.T) {
		s := open(t)
		held := runningPromotion(t, s, owner(1))
		ended := &strata.Promotion{Service: "api", Version: "2.0", Stage: "prod", State: strata.Running, Requester: "alice", Owner: owner(1), LeaseUntil: leaseEnd}
		must(t, s.CreatePromotion(ctx(t), ended, nil))
		ended.State = strata.Failed
		must(t, s.UpdatePromotion(ctx(t), ended, nil))
		for _, c := range []struct {
			name     string
			id       string
			from, to strata.Owner
			want     string
		}{
			{"taking from an owner that does not hold it is a conflict", held.ID, owner(3), owner(2), strata.ECONFLICT},
			{"taking an ended promotion is a conflict", ended.ID, strata.Owner{}, owner(2), strata.ECONFLICT},
			{"taking it for no owner is invalid", held.ID, owner(1), strata.Owner{}, strata.EINVALID},
			{"taking an unknown promotion is not found", "p-nope", owner(1), owner(2), strata.ENOTFOUND},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, s.TakeOverPromotion(ctx(t), c.id, c.from, c.to, leaseEnd, nil), c.want)
			})
		}
		if got, _ := s.Promotion(ctx(t), held.ID); got.Owner != owner(1) {
			t.Errorf("a refused take-over changed the owner to %+v", got.Owner)
		}
	})

	t.Run("a running promotion recorded without an owner can be taken over", func(t *testing.T) {
		// Rows written before promotions had owners read as owned by no one.
		s := open(t)
		p := runningPromotion(t, s, strata.Owner{})
		must(t, s.TakeOverPromotion(ctx(t), p.ID, strata.Owner{}, owner(2), leaseEnd, nil))
		if got, _ := s.Promotion(ctx(t), p.ID); got.Owner != owner(2) {
			t.Errorf("owner = %+v, want %+v", got.Owner, owner(2))
		}
	})

	t.Run("a waiting promotion that was claimed meanwhile is not rejected by a stale write", func(t *testing.T) {
		s := open(t)
		p := &strata.Promotion{Service: "api", Version: "1.0", Stage: "prod", State: strata.Waiting, Requester: "alice"}
		must(t, s.CreatePromotion(ctx(t), p, nil))
		must(t, s.ClaimPromotion(ctx(t), p.ID, owner(1), leaseEnd, nil))
		p.State, p.Reason = strata.Rejected, "too late"
		wantCode(t, s.UpdatePromotion(ctx(t), p, nil), strata.ECONFLICT)
	})

	t.Run("of many takers from the same owner exactly one wins", func(t *testing.T) {
		s := open(t)
		p := runningPromotion(t, s, owner(1))
		const n = 6
		codes := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				codes[i] = strata.ErrorCode(s.TakeOverPromotion(ctx(t), p.ID, owner(1), owner(2+i), leaseEnd, nil))
			})
		}
		wg.Wait()
		won := 0
		for _, c := range codes {
			switch c {
			case "":
				won++
			case strata.ECONFLICT:
			default:
				t.Errorf("take-over error code %q, want none or conflict", c)
			}
		}
		if won != 1 {
			t.Errorf("%d take-overs won, want exactly 1", won)
		}
	})
}
