package storetest

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
)

// testFlags runs its cases on two stores, not one each: on PostgreSQL most of a case's cost
// is making its schema. Cases on one store keep apart by environment and count relatively.
func testFlags(t *testing.T, open func(t *testing.T) strata.Store) {
	on := true
	off := false
	pct := func(n int) *int { return &n }
	shared, second := open(t), open(t) // closed when the group ends
	one := func(*testing.T) strata.Store { return shared }
	two := func(*testing.T) strata.Store { return second }

	t.Run("each change keeps what it does not touch and moves the counter", func(t *testing.T) {
		s := one(t)
		v0, err := s.FlagsVersion(ctx(t))
		must(t, err)
		_, err = s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "prod", Flag: "checkout", Value: json.RawMessage(`"gold"`), Actor: "alice"},
			&strata.Event{Actor: "alice", Action: "flag.set"})
		must(t, err)
		_, err = s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "prod", Flag: "checkout", Percent: pct(25), Actor: "bob"}, nil)
		must(t, err)
		st, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "prod", Flag: "checkout", Killed: &on, Reason: "errors spiking", Actor: "carol"}, nil)
		must(t, err)
		if string(st.Value) != `"gold"` || st.Percent == nil || *st.Percent != 25 || !st.Killed || st.KillReason != "errors spiking" || st.UpdatedBy != "carol" || st.UpdatedAt.IsZero() {
			t.Errorf("state after set, rollout and kill = %+v, want all three kept, by carol", st)
		}
		v1, err := s.FlagsVersion(ctx(t))
		must(t, err)
		if v1 != v0+3 {
			t.Errorf("counter went from %d to %d after three changes, want +3", v0, v1)
		}
		got, err := s.FlagStates(ctx(t), "prod")
		must(t, err)
		if len(got) != 1 || string(got[0].Value) != `"gold"` || *got[0].Percent != 25 || !got[0].Killed || !sameTime(got[0].UpdatedAt, st.UpdatedAt) {
			t.Fatalf("listed %+v, want the one state as changed", got)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{Action: "flag.set"})
		must(t, err)
		if len(evs) != 1 || evs[0].Environment != "prod" || evs[0].Subject != "checkout" {
			t.Errorf("events = %+v, want one flag.set of checkout in prod", evs)
		}
	})

	t.Run("unkill clears the reason and clearing a value forgets it", func(t *testing.T) {
		s := one(t)
		_, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "dev", Flag: "f", Value: json.RawMessage(`true`), Killed: &on, Reason: "r"}, nil)
		must(t, err)
		st, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "dev", Flag: "f", Killed: &off, ClearValue: true}, nil)
		must(t, err)
		if st.Killed || st.KillReason != "" || st.Value != nil || st.Percent != nil {
			t.Errorf("state = %+v, want nothing left", st)
		}
	})

	t.Run("states are kept apart by environment", func(t *testing.T) {
		s := one(t)
		for _, env := range []string{"zb", "za"} {
			_, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: env, Flag: "f", Percent: pct(5)}, nil)
			must(t, err)
		}
		all, err := s.FlagStates(ctx(t), "")
		must(t, err)
		n := len(all)
		if n < 2 || all[n-2].Environment != "za" || all[n-1].Environment != "zb" {
			t.Errorf("all states = %+v, want za's then zb's last, by environment", all)
		}
		none, err := s.FlagStates(ctx(t), "c")
		must(t, err)
		if len(none) != 0 {
			t.Errorf("states of c = %+v, want none", none)
		}
	})

	t.Run("a change that names no flag is invalid and moves nothing", func(t *testing.T) {
		s := one(t)
		v0, err := s.FlagsVersion(ctx(t))
		must(t, err)
		_, err = s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "nothing"}, &strata.Event{Actor: "x", Action: "flag.set"})
		wantCode(t, err, strata.EINVALID)
		v, err := s.FlagsVersion(ctx(t))
		must(t, err)
		evs, _ := s.Events(ctx(t), strata.EventFilter{Environment: "nothing"})
		if v != v0 || len(evs) != 0 {
			t.Errorf("counter moved %d and %d events after a refused change, want 0 and 0", v-v0, len(evs))
		}
	})

	t.Run("concurrent changes each count once and none is lost", func(t *testing.T) {
		s := two(t)
		var wg sync.WaitGroup
		const n = 8
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "prod", Flag: "f", Percent: pct(i)}, nil)
				errs <- err
			}()
			go func() {
				defer wg.Done()
				_, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "prod", Flag: "f", Killed: &on, Reason: "x"}, nil)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		v, err := s.FlagsVersion(ctx(t))
		must(t, err)
		st, err := s.FlagStates(ctx(t), "prod")
		must(t, err)
		if v != 2*n || len(st) != 1 || !st[0].Killed || st[0].Percent == nil {
			t.Errorf("counter %d, states %+v; want %d and one killed state with a percent", v, st, 2*n)
		}
	})

	t.Run("a request waits for distinct approvals, then applies its change with both events", func(t *testing.T) {
		s := two(t)
		r := &strata.FlagRequest{Environment: "prod", Flag: "f", Action: "flag.set", RequestedBy: "alice", Needed: 2,
			Change: strata.FlagChange{Value: json.RawMessage(`true`), Actor: "alice"}}
		must(t, s.RequestFlagChange(ctx(t), r, &strata.Event{Actor: "alice", Action: "flag.request"}))
		if r.ID == "" || r.State != strata.FlagWaiting || r.CreatedAt.IsZero() {
			t.Fatalf("recorded %+v, want an id, waiting, a time", r)
		}
		_, _, err := s.ApproveFlagChange(ctx(t), r.ID, strata.Approval{Principal: "alice"}, nil, nil)
		wantCode(t, err, strata.ECONFLICT)
		got, st, err := s.ApproveFlagChange(ctx(t), r.ID, strata.Approval{Principal: "bob"}, &strata.Event{Actor: "bob", Action: "flag.approve"}, &strata.Event{Actor: "bob", Action: "flag.set"})
		must(t, err)
		if got.State != strata.FlagWaiting || st != nil || len(got.Approvals) != 1 {
			t.Fatalf("after one of two approvals: %+v, state %+v; want still waiting", got, st)
		}
		_, _, err = s.ApproveFlagChange(ctx(t), r.ID, strata.Approval{Principal: "bob"}, nil, nil)
		wantCode(t, err, strata.ECONFLICT)
		waiting, err := s.FlagRequests(ctx(t), "prod")
		must(t, err)
		if len(waiting) != 1 || waiting[0].ID != r.ID || len(waiting[0].Approvals) != 1 {
			t.Fatalf("waiting = %+v, want the request with bob's approval", waiting)
		}
		got, st, err = s.ApproveFlagChange(ctx(t), r.ID, strata.Approval{Principal: "carol"}, &strata.Event{Actor: "carol", Action: "flag.approve"}, &strata.Event{Actor: "carol", Action: "flag.set"})
		must(t, err)
		if got.State != strata.FlagApplied || st == nil || string(st.Value) != "true" {
			t.Fatalf("after the second approval: %+v, state %+v; want applied, value true", got, st)
		}
		states, err := s.FlagStates(ctx(t), "prod")
		must(t, err)
		if len(states) != 1 || string(states[0].Value) != "true" {
			t.Errorf("states = %+v, want the applied value", states)
		}
		waiting, err = s.FlagRequests(ctx(t), "")
		must(t, err)
		if len(waiting) != 0 {
			t.Errorf("waiting after it applied = %+v, want none", waiting)
		}
		sets, err := s.Events(ctx(t), strata.EventFilter{Action: "flag.set"})
		must(t, err)
		if len(sets) != 1 || sets[0].Actor != "carol" || sets[0].Subject != "f" {
			t.Errorf("flag.set events = %+v, want one, by the last approver", sets)
		}
		_, _, err = s.ApproveFlagChange(ctx(t), r.ID, strata.Approval{Principal: "dave"}, nil, nil)
		wantCode(t, err, strata.ECONFLICT)
		_, _, err = s.ApproveFlagChange(ctx(t), "fr-none", strata.Approval{Principal: "dave"}, nil, nil)
		wantCode(t, err, strata.ENOTFOUND)
	})

	t.Run("a request that needs no approval is invalid", func(t *testing.T) {
		s := two(t)
		err := s.RequestFlagChange(ctx(t), &strata.FlagRequest{Environment: "prod", Flag: "f", RequestedBy: "a"}, nil)
		wantCode(t, err, strata.EINVALID)
	})
}
