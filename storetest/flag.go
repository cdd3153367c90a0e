package storetest

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
)

func testFlags(t *testing.T, open func(t *testing.T) strata.Store) {
	on := true
	off := false
	pct := func(n int) *int { return &n }

	t.Run("each change keeps what it does not touch and moves the counter", func(t *testing.T) {
		s := open(t)
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
		s := open(t)
		_, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "dev", Flag: "f", Value: json.RawMessage(`true`), Killed: &on, Reason: "r"}, nil)
		must(t, err)
		st, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "dev", Flag: "f", Killed: &off, ClearValue: true}, nil)
		must(t, err)
		if st.Killed || st.KillReason != "" || st.Value != nil || st.Percent != nil {
			t.Errorf("state = %+v, want nothing left", st)
		}
	})

	t.Run("states are kept apart by environment", func(t *testing.T) {
		s := open(t)
		for _, env := range []string{"b", "a"} {
			_, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: env, Flag: "f", Percent: pct(5)}, nil)
			must(t, err)
		}
		all, err := s.FlagStates(ctx(t), "")
		must(t, err)
		if len(all) != 2 || all[0].Environment != "a" || all[1].Environment != "b" {
			t.Errorf("all states = %+v, want a's then b's", all)
		}
		none, err := s.FlagStates(ctx(t), "c")
		must(t, err)
		if len(none) != 0 {
			t.Errorf("states of c = %+v, want none", none)
		}
	})

	t.Run("a change that names no flag is invalid and moves nothing", func(t *testing.T) {
		s := open(t)
		_, err := s.ChangeFlag(ctx(t), &strata.FlagChange{Environment: "dev"}, &strata.Event{Actor: "x", Action: "flag.set"})
		wantCode(t, err, strata.EINVALID)
		v, err := s.FlagsVersion(ctx(t))
		must(t, err)
		evs, _ := s.Events(ctx(t), strata.EventFilter{})
		if v != 0 || len(evs) != 0 {
			t.Errorf("counter %d and %d events after a refused change, want 0 and 0", v, len(evs))
		}
	})

	t.Run("concurrent changes each count once and none is lost", func(t *testing.T) {
		s := open(t)
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
}
