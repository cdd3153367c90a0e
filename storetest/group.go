package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

func newSwitch(group, from, to, state string) *strata.Switch {
	return &strata.Switch{Group: group, From: from, To: to, Kind: strata.KindSwitch, State: state, Requester: "alice", Reason: "move traffic"}
}

func liveOf(t *testing.T, s strata.Store, group string) string {
	t.Helper()
	ms, err := s.LiveMembers(ctx(t))
	must(t, err)
	for _, m := range ms {
		if m.Group == group {
			return m.Environment
		}
	}
	return ""
}

func testSwitches(t *testing.T, open func(t *testing.T) strata.Store) {
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("a waiting switch is approved once per principal, claimed once, and its success moves the live member", func(t *testing.T) {
		s := open(t)
		w := newSwitch("shop", "blue", "green", strata.SwitchWaiting)
		must(t, s.CreateSwitch(ctx(t), w, &strata.Event{Actor: "alice", Action: "switch.request"}))
		if w.ID == "" || len(w.Approvals) != 0 {
			t.Fatalf("created %+v, want an id and no approvals", w)
		}
		must(t, s.ApproveSwitch(ctx(t), w.ID, strata.Approval{Principal: "bob"}, nil))
		wantCode(t, s.ApproveSwitch(ctx(t), w.ID, strata.Approval{Principal: "bob"}, nil), strata.ECONFLICT)
		must(t, s.ClaimSwitch(ctx(t), w.ID, owner(1), until, nil))
		wantCode(t, s.ClaimSwitch(ctx(t), w.ID, owner(2), until, nil), strata.ECONFLICT)
		if got := liveOf(t, s, "shop"); got != "" {
			t.Fatalf("live member before the switch ended: %q, want none recorded", got)
		}
		end, err := s.Switch(ctx(t), w.ID)
		must(t, err)
		end.State, end.Output = strata.SwitchSucceeded, "dns moved\n"
		end.Owner = owner(2)
		wantCode(t, s.FinishSwitch(ctx(t), end, nil), strata.ECONFLICT)
		end.Owner = owner(1)
		must(t, s.FinishSwitch(ctx(t), end, &strata.Event{Actor: "alice", Action: "switch.succeeded"}))
		wantCode(t, s.FinishSwitch(ctx(t), end, nil), strata.ECONFLICT)
		if got := liveOf(t, s, "shop"); got != "green" {
			t.Fatalf("live member %q, want green", got)
		}
		got, err := s.Switch(ctx(t), w.ID)
		must(t, err)
		if got.State != strata.SwitchSucceeded || got.Output != "dns moved\n" || got.Owner != (strata.Owner{}) || len(got.Approvals) != 1 {
			t.Fatalf("after the end: %+v", got)
		}
	})

	t.Run("a group has one open switch at a time, and a second request is given the open one", func(t *testing.T) {
		s := open(t)
		a := newSwitch("shop", "blue", "green", strata.SwitchWaiting)
		must(t, s.CreateSwitch(ctx(t), a, nil))
		b := newSwitch("shop", "blue", "green", strata.SwitchRunning)
		b.Owner, b.LeaseUntil = owner(1), until
		wantCode(t, s.CreateSwitch(ctx(t), b, nil), strata.ECONFLICT)
		if b.ID != a.ID {
			t.Fatalf("the refused request holds %q, want the open switch %s", b.ID, a.ID)
		}
		must(t, s.CreateSwitch(ctx(t), newSwitch("other", "x", "y", strata.SwitchWaiting), nil))
		a.State = strata.SwitchRejected
		must(t, s.FinishSwitch(ctx(t), a, nil))
		must(t, s.CreateSwitch(ctx(t), newSwitch("shop", "blue", "green", strata.SwitchWaiting), nil))
		if got := liveOf(t, s, "shop"); got != "" {
			t.Fatalf("a rejected switch moved the live member to %q", got)
		}
	})

	t.Run("a switch from a member that is no longer live does not move the pointer, and a resumed one moves it once", func(t *testing.T) {
		s := open(t)
		run := func(from, to string, o strata.Owner) *strata.Switch {
			w := newSwitch("shop", from, to, strata.SwitchRunning)
			w.Owner, w.LeaseUntil = o, until
			must(t, s.CreateSwitch(ctx(t), w, nil))
			return w
		}
		w := run("blue", "green", owner(1))
		w.State = strata.SwitchSucceeded
		must(t, s.FinishSwitch(ctx(t), w, nil))
		stale := run("blue", "green", owner(1))
		stale.State = strata.SwitchSucceeded
		must(t, s.FinishSwitch(ctx(t), stale, nil)) // green is live already: once is enough
		back := run("blue", "red", owner(1))
		back.State = strata.SwitchSucceeded
		wantCode(t, s.FinishSwitch(ctx(t), back, nil), strata.ECONFLICT)
		if got := liveOf(t, s, "shop"); got != "green" {
			t.Fatalf("live member %q, want green", got)
		}
	})

	t.Run("of two processes that take over a dead owner's switch, one gets it", func(t *testing.T) {
		s := open(t)
		w := newSwitch("shop", "blue", "green", strata.SwitchRunning)
		w.Owner, w.LeaseUntil = owner(1), until
		must(t, s.CreateSwitch(ctx(t), w, nil))
		wantCode(t, s.TakeOverSwitch(ctx(t), w.ID, owner(1), strata.Owner{}, until, nil), strata.EINVALID)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.TakeOverSwitch(ctx(t), w.ID, owner(1), owner(2+i), until, nil)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if strata.ErrorCode(err) != strata.ECONFLICT {
				t.Fatalf("a losing take-over: %v, want ECONFLICT", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d processes took the switch over, want 1", won)
		}
		wantCode(t, s.TakeOverSwitch(ctx(t), "sw-nope", owner(1), owner(2), until, nil), strata.ENOTFOUND)
	})

	t.Run("switches are listed newest first and filtered by group and state", func(t *testing.T) {
		s := open(t)
		a, b := newSwitch("shop", "blue", "green", strata.SwitchWaiting), newSwitch("eu", "a", "b", strata.SwitchWaiting)
		must(t, s.CreateSwitch(ctx(t), a, nil))
		must(t, s.CreateSwitch(ctx(t), b, nil))
		all, err := s.Switches(ctx(t), strata.SwitchFilter{})
		must(t, err)
		if len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
			t.Fatalf("switches %v, want %s then %s", all, b.ID, a.ID)
		}
		shop, err := s.Switches(ctx(t), strata.SwitchFilter{Group: "shop", States: []string{strata.SwitchWaiting}})
		must(t, err)
		if len(shop) != 1 || shop[0].ID != a.ID {
			t.Fatalf("shop's waiting switches %v, want %s", shop, a.ID)
		}
		_, err = s.Switch(ctx(t), "sw-nope")
		wantCode(t, err, strata.ENOTFOUND)
		wantCode(t, s.CreateSwitch(ctx(t), &strata.Switch{Group: "shop", From: "a", To: "b", Kind: "sideways", State: strata.SwitchWaiting}, nil), strata.EINVALID)
	})
}
