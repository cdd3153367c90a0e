package storetest

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

// promotion returns a waiting promotion of api@version to stage, asked for by alice.
func promotion(version, stage string) *strata.Promotion {
	return &strata.Promotion{Service: "api", Version: version, Stage: stage, State: strata.Waiting, Requester: "alice"}
}

func testPromotions(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a new promotion gets an id and times and reads back as written", func(t *testing.T) {
		s := open(t)
		p := promotion("1.0.0", "prod")
		p.Override, p.Reason = true, "hotfix outside the window"
		must(t, s.CreatePromotion(ctx(t), p, nil))
		if !strings.HasPrefix(p.ID, "p-") || p.CreatedAt.IsZero() {
			t.Fatalf("created promotion has id %q and time %v, want a p- id and a time", p.ID, p.CreatedAt)
		}
		got, err := s.Promotion(ctx(t), p.ID)
		must(t, err)
		if got.Service != "api" || got.Version != "1.0.0" || got.Stage != "prod" || got.State != strata.Waiting ||
			got.Requester != "alice" || !got.Override || got.Reason != p.Reason || len(got.Approvals) != 0 ||
			!sameTime(got.CreatedAt, p.CreatedAt) {
			t.Fatalf("read back %+v, want %+v", got, p)
		}
	})

	t.Run("an unknown promotion is not found", func(t *testing.T) {
		s := open(t)
		_, err := s.Promotion(ctx(t), "p-0000000000")
		wantCode(t, err, strata.ENOTFOUND)
		p := promotion("1", "prod")
		p.ID = "p-0000000000"
		wantCode(t, s.UpdatePromotion(ctx(t), p, nil), strata.ENOTFOUND)
		wantCode(t, s.Approve(ctx(t), p.ID, strata.Approval{Principal: "bob"}, nil), strata.ENOTFOUND)
	})

	t.Run("a duplicate of an open promotion returns the open one as a conflict", func(t *testing.T) {
		for _, state := range []string{strata.Waiting, strata.Running} {
			t.Run(state, func(t *testing.T) {
				s := open(t)
				first := promotion("1.0.0", "prod")
				first.State = state
				must(t, s.CreatePromotion(ctx(t), first, nil))
				dup := promotion("1.0.0", "prod")
				dup.Requester = "bob"
				wantCode(t, s.CreatePromotion(ctx(t), dup, &strata.Event{Actor: "bob", Action: "promote"}), strata.ECONFLICT)
				if dup.ID != first.ID || dup.Requester != "alice" || dup.State != state {
					t.Fatalf("the duplicate was filled with %+v, want the open promotion %+v", dup, first)
				}
				ps, err := s.Promotions(ctx(t), strata.PromotionFilter{})
				must(t, err)
				if len(ps) != 1 {
					t.Fatalf("%d promotions stored, want 1", len(ps))
				}
			})
		}
	})

	t.Run("an audited update that is refused appends nothing and changes nothing", func(t *testing.T) {
		tests := []struct {
			name string
			// refused returns the promotion to write, as its writer has it, once the store
			// holds what makes the write fail with code.
			refused func(t *testing.T, s strata.Store) *strata.Promotion
			code    string
		}{
			{"a promotion that does not exist", func(t *testing.T, s strata.Store) *strata.Promotion {
				p := promotion("1.0.0", "prod")
				p.ID = "p-0000000000"
				return p
			}, strata.ENOTFOUND},
			{"a runner that lost its running promotion", func(t *testing.T, s strata.Store) *strata.Promotion {
				p := runningPromotion(t, s, owner(1))
				must(t, s.TakeOverPromotion(ctx(t), p.ID, owner(1), owner(2), leaseEnd, nil))
				return p
			}, strata.ECONFLICT},
			{"reopening a promotion while another of its release and stage is open", func(t *testing.T, s strata.Store) *strata.Promotion {
				p := promotion("1.0.0", "prod")
				must(t, s.CreatePromotion(ctx(t), p, nil))
				p.State = strata.Rejected
				must(t, s.UpdatePromotion(ctx(t), p, nil))
				must(t, s.CreatePromotion(ctx(t), promotion("1.0.0", "prod"), nil))
				p.State = strata.Waiting
				return p
			}, strata.ECONFLICT},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				p := tt.refused(t, s)
				before, err := s.Events(ctx(t), strata.EventFilter{})
				must(t, err)
				stored, _ := s.Promotion(ctx(t), p.ID)
				want := p.State
				p.State = strata.Failed
				if want == strata.Waiting {
					p.State = strata.Waiting
				}
				wantCode(t, s.UpdatePromotion(ctx(t), p, &strata.Event{Actor: "alice", Action: "promotion.failed"}), tt.code)
				after, err := s.Events(ctx(t), strata.EventFilter{})
				must(t, err)
				if len(after) != len(before) {
					t.Errorf("%d events after the refused update, want the %d before it", len(after), len(before))
				}
				if got, _ := s.Promotion(ctx(t), p.ID); stored != nil && got.State != stored.State {
					t.Errorf("the refused update changed the state from %s to %s", stored.State, got.State)
				}
			})
		}
	})

	t.Run("an audited update names the stored promotion's service, whatever the writer says", func(t *testing.T) {
		s := open(t)
		p := promotion("1.0.0", "prod")
		must(t, s.CreatePromotion(ctx(t), p, nil))
		p.Service, p.State = "web", strata.Rejected
		e := &strata.Event{Actor: "alice", Action: "reject"}
		must(t, s.UpdatePromotion(ctx(t), p, e))
		if e.Service != "api" || e.Subject != p.ID {
			t.Errorf("the event is about service %q, subject %q; want api and %s", e.Service, e.Subject, p.ID)
		}
		if got, _ := s.Promotion(ctx(t), p.ID); got.State != strata.Rejected {
			t.Errorf("state %s, want rejected", got.State)
		}
	})

	t.Run("a closed promotion does not stop a new one, nor does another stage or version", func(t *testing.T) {
		s := open(t)
		first := promotion("1.0.0", "prod")
		must(t, s.CreatePromotion(ctx(t), first, nil))
		must(t, s.CreatePromotion(ctx(t), promotion("1.0.0", "staging"), nil))
		must(t, s.CreatePromotion(ctx(t), promotion("1.0.1", "prod"), nil))
		first.State, first.Reason = strata.Rejected, "not today"
		must(t, s.UpdatePromotion(ctx(t), first, nil))
		got, err := s.Promotion(ctx(t), first.ID)
		must(t, err)
		if got.State != strata.Rejected || got.Reason != "not today" || got.UpdatedAt.Before(got.CreatedAt) {
			t.Fatalf("after the update: %+v, want rejected with its reason", got)
		}
		must(t, s.CreatePromotion(ctx(t), promotion("1.0.0", "prod"), nil))
	})

	t.Run("approvals are kept in order, one per principal", func(t *testing.T) {
		s := open(t)
		p := promotion("1", "prod")
		must(t, s.CreatePromotion(ctx(t), p, nil))
		must(t, s.Approve(ctx(t), p.ID, strata.Approval{Principal: "bob"}, nil))
		must(t, s.Approve(ctx(t), p.ID, strata.Approval{Principal: "carol"}, nil))
		wantCode(t, s.Approve(ctx(t), p.ID, strata.Approval{Principal: "bob"}, &strata.Event{Actor: "bob", Action: "approve"}), strata.ECONFLICT)
		got, err := s.Promotion(ctx(t), p.ID)
		must(t, err)
		if len(got.Approvals) != 2 || got.Approvals[0].Principal != "bob" || got.Approvals[1].Principal != "carol" ||
			got.Approvals[0].At.IsZero() {
			t.Fatalf("approvals = %+v, want bob then carol, with times", got.Approvals)
		}
		ps, err := s.Promotions(ctx(t), strata.PromotionFilter{})
		must(t, err)
		if len(ps) != 1 || len(ps[0].Approvals) != 2 {
			t.Fatalf("listed promotions = %+v, want one with two approvals", ps)
		}
	})

	t.Run("approving a promotion that is not waiting is a conflict", func(t *testing.T) {
		for _, state := range []string{strata.Running, strata.Succeeded, strata.Failed, strata.Rejected} {
			t.Run(state, func(t *testing.T) {
				s := open(t)
				p := promotion("1", "prod")
				must(t, s.CreatePromotion(ctx(t), p, nil))
				p.State = state
				must(t, s.UpdatePromotion(ctx(t), p, nil))
				wantCode(t, s.Approve(ctx(t), p.ID, strata.Approval{Principal: "bob"}, nil), strata.ECONFLICT)
			})
		}
	})

	t.Run("promotions filter and list newest first", func(t *testing.T) {
		s := open(t)
		var made []*strata.Promotion
		for _, c := range []struct{ version, stage, state string }{
			{"1", "staging", strata.Succeeded},
			{"1", "prod", strata.Waiting},
			{"2", "staging", strata.Running},
			{"2", "prod", strata.Waiting},
		} {
			p := promotion(c.version, c.stage)
			p.State = c.state
			must(t, s.CreatePromotion(ctx(t), p, nil))
			made = append(made, p)
		}
		id := func(is ...int) string { return promotionIDs(at(made, is...)) }
		tests := []struct {
			name string
			f    strata.PromotionFilter
			want string
		}{
			{"no filter lists all, newest first", strata.PromotionFilter{}, id(3, 2, 1, 0)},
			{"by version", strata.PromotionFilter{Service: "api", Version: "1"}, id(1, 0)},
			{"by stage", strata.PromotionFilter{Stage: "prod"}, id(3, 1)},
			{"by states", strata.PromotionFilter{States: []string{strata.Waiting, strata.Running}}, id(3, 2, 1)},
			{"the newest few", strata.PromotionFilter{Limit: 1}, id(3)},
			{"nothing matches", strata.PromotionFilter{Service: "web"}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ps, err := s.Promotions(ctx(t), tt.f)
				must(t, err)
				if got := promotionIDs(ps); got != tt.want {
					t.Fatalf("promotions = %q, want %q", got, tt.want)
				}
			})
		}
	})
}

func testFreezes(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("freeze, list, refreeze and lift", func(t *testing.T) {
		s := open(t)
		must(t, s.SetFreeze(ctx(t), "prod-us", &strata.Freeze{Reason: "incident 42", Actor: "alice"}, nil))
		must(t, s.SetFreeze(ctx(t), "prod-eu", &strata.Freeze{Reason: "holiday", Actor: "bob"}, nil))
		must(t, s.SetFreeze(ctx(t), "prod-us", &strata.Freeze{Reason: "incident 43", Actor: "carol"}, nil))
		fs, err := s.Freezes(ctx(t))
		must(t, err)
		got := map[string]strata.Freeze{}
		for _, f := range fs {
			got[f.Environment] = *f
			if f.At.IsZero() {
				t.Errorf("freeze of %s has no time", f.Environment)
			}
		}
		if len(fs) != 2 || got["prod-us"].Reason != "incident 43" || got["prod-us"].Actor != "carol" || got["prod-eu"].Reason != "holiday" {
			t.Fatalf("freezes = %+v, want prod-eu (holiday) and prod-us (incident 43 by carol)", got)
		}
		must(t, s.SetFreeze(ctx(t), "prod-us", nil, nil))
		fs, err = s.Freezes(ctx(t))
		must(t, err)
		if len(fs) != 1 || fs[0].Environment != "prod-eu" {
			t.Fatalf("after lifting prod-us, freezes = %+v, want only prod-eu", fs)
		}
	})

	t.Run("lifting the freeze of an environment that is not frozen is not found", func(t *testing.T) {
		s := open(t)
		wantCode(t, s.SetFreeze(ctx(t), "dev", nil, &strata.Event{Actor: "alice", Action: "unfreeze"}), strata.ENOTFOUND)
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 0 {
			t.Fatalf("a refused unfreeze appended %d events, want 0", len(evs))
		}
	})
}
