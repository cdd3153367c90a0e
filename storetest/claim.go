package storetest

import (
	"sync"
	"testing"

	"github.com/strata-dev/strata"
)

// testClaimPromotion: moving a waiting promotion to running is compare-and-set, so that of
// several schedulers that found its gates open, exactly one runs it.
func testClaimPromotion(t *testing.T, open func(t *testing.T) strata.Store) {
	newWaiting := func(t *testing.T, s strata.Store) *strata.Promotion {
		t.Helper()
		p := &strata.Promotion{Service: "api", Version: "1.0", Stage: "prod", State: strata.Waiting, Requester: "alice"}
		must(t, s.CreatePromotion(ctx(t), p, &strata.Event{Actor: "alice", Action: "promote"}))
		return p
	}
	t.Run("a waiting promotion is claimed once and is then running", func(t *testing.T) {
		s := open(t)
		p := newWaiting(t, s)
		must(t, s.ClaimPromotion(ctx(t), p.ID, owner(1), leaseEnd, &strata.Event{Actor: "scheduler", Action: "promotion.running"}))
		got, err := s.Promotion(ctx(t), p.ID)
		must(t, err)
		if got.State != strata.Running || got.Owner != owner(1) || !sameTime(got.LeaseUntil, leaseEnd) {
			t.Errorf("after the claim: %s owned by %+v until %v; want running owned by %+v until %v",
				got.State, got.Owner, got.LeaseUntil, owner(1), leaseEnd)
		}
		wantCode(t, s.ClaimPromotion(ctx(t), p.ID, owner(2), leaseEnd, nil), strata.ECONFLICT)
	})
	t.Run("claiming an unknown promotion is not found", func(t *testing.T) {
		s := open(t)
		wantCode(t, s.ClaimPromotion(ctx(t), "p-nope", owner(1), leaseEnd, nil), strata.ENOTFOUND)
	})
	t.Run("a claim is audited with the change and a refused claim is not", func(t *testing.T) {
		s := open(t)
		p := newWaiting(t, s)
		must(t, s.ClaimPromotion(ctx(t), p.ID, owner(1), leaseEnd, &strata.Event{Actor: "scheduler", Action: "promotion.running"}))
		_ = s.ClaimPromotion(ctx(t), p.ID, owner(1), leaseEnd, &strata.Event{Actor: "scheduler", Action: "promotion.running"})
		evs, err := s.Events(ctx(t), strata.EventFilter{Action: "promotion.running"})
		must(t, err)
		if len(evs) != 1 || evs[0].Subject != p.ID {
			t.Errorf("promotion.running events = %d, want 1 about %s", len(evs), p.ID)
		}
	})
	t.Run("of many concurrent claims exactly one wins", func(t *testing.T) {
		s := open(t)
		p := newWaiting(t, s)
		const n = 8
		var wg sync.WaitGroup
		codes := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = strata.ErrorCode(s.ClaimPromotion(ctx(t), p.ID, owner(i), leaseEnd, &strata.Event{Actor: "scheduler", Action: "promotion.running"}))
			}()
		}
		wg.Wait()
		won := 0
		for _, c := range codes {
			switch c {
			case "":
				won++
			case strata.ECONFLICT:
			default:
				t.Errorf("claim error code %q, want none or conflict", c)
			}
		}
		if won != 1 {
			t.Errorf("%d claims won, want exactly 1", won)
		}
	})
}
