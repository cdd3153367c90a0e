package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// verify recomputes the hash chain of evs as `audit --verify` does.
func verify(t *testing.T, evs []*strata.Event) {
	t.Helper()
	prev := ""
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, i+1)
		}
		if e.Prev != prev {
			t.Fatalf("event %d: prev = %q, want the hash before it %q", e.Seq, e.Prev, prev)
		}
		if h := e.ComputeHash(prev); h != e.Hash {
			t.Fatalf("event %d: hash = %q, recomputed %q", e.Seq, e.Hash, h)
		}
		prev = e.Hash
	}
}

func testEvents(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("every audited change appends one event, chained, and unaudited ones none", func(t *testing.T) {
		s := open(t)
		until := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
		ev := func(action string) *strata.Event {
			return &strata.Event{Actor: "alice", Action: action, Detail: json.RawMessage(`{"why":"test"}`)}
		}
		var audited []*strata.Event
		audit := func(action string) *strata.Event {
			e := ev(action)
			audited = append(audited, e)
			return e
		}

		r := &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}
		must(t, s.CreateRelease(ctx(t), r, audit("release")))
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "api", Version: "2", Digest: "sha256:bb"}, nil))
		d := deployment("api", "prod", 1)
		must(t, s.CreateDeployment(ctx(t), d, audit("deploy.start")))
		must(t, s.RenewLease(ctx(t), d.ID, owner(1), until))
		must(t, s.AppendLog(ctx(t), d.ID, strata.LogChunk{Step: "deploy", Data: "ok"}))
		must(t, s.UpdateDeployment(ctx(t), d, nil))
		must(t, s.TakeOver(ctx(t), d.ID, owner(1), owner(2), until, audit("deploy.takeover")))
		d.Owner, d.State = owner(2), strata.Succeeded
		must(t, s.UpdateDeployment(ctx(t), d, audit("deploy.succeeded")))
		p := promotion("1", "prod")
		must(t, s.CreatePromotion(ctx(t), p, audit("promote")))
		must(t, s.Approve(ctx(t), p.ID, strata.Approval{Principal: "bob"}, audit("approve")))
		p.State = strata.Running
		must(t, s.UpdatePromotion(ctx(t), p, audit("promotion.running")))
		must(t, s.SetFreeze(ctx(t), "prod", &strata.Freeze{Reason: "r", Actor: "alice"}, audit("freeze")))
		must(t, s.SetFreeze(ctx(t), "prod", nil, audit("unfreeze")))
		must(t, s.AppendEvent(ctx(t), audit("denied")))

		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != len(audited) {
			t.Fatalf("%d events stored, want %d (one per audited change)", len(evs), len(audited))
		}
		verify(t, evs)
		for i, e := range evs {
			want := audited[i]
			if e.Action != want.Action || e.Seq != want.Seq || e.Hash != want.Hash || e.Prev != want.Prev ||
				!sameTime(e.At, want.At) || string(e.Detail) != `{"why":"test"}` {
				t.Errorf("stored event %d = %+v, want what the caller was given back: %+v", i, e, want)
			}
			if e.At.IsZero() || e.At.Location() != time.UTC {
				t.Errorf("event %d time = %v, want a UTC time", e.Seq, e.At)
			}
		}
		subjects := map[string]string{
			"release": r.ID, "deploy.start": d.ID, "deploy.takeover": d.ID, "deploy.succeeded": d.ID,
			"promote": p.ID, "approve": p.ID, "promotion.running": p.ID,
		}
		for _, e := range evs {
			if want, ok := subjects[e.Action]; ok && e.Subject != want {
				t.Errorf("%s event subject = %q, want %q", e.Action, e.Subject, want)
			}
		}
	})

	t.Run("a subject the caller chose is kept", func(t *testing.T) {
		s := open(t)
		e := &strata.Event{Actor: "alice", Action: "release", Subject: "custom"}
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}, e))
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 1 || evs[0].Subject != "custom" {
			t.Fatalf("events = %+v, want one with subject custom", evs)
		}
	})

	t.Run("events filter and the newest few still come oldest first", func(t *testing.T) {
		s := open(t)
		for i, c := range []struct{ actor, action, service, env string }{
			{"alice", "deploy", "api", "dev"},
			{"bob", "deploy", "web", "dev"},
			{"alice", "approve", "api", "prod"},
			{"carol", "deploy", "api", "prod"},
			{"alice", "freeze", "", "prod"},
		} {
			must(t, s.AppendEvent(ctx(t), &strata.Event{Actor: c.actor, Action: c.action, Service: c.service,
				Environment: c.env, Subject: fmt.Sprint(i + 1)}))
		}
		tests := []struct {
			name string
			f    strata.EventFilter
			want string
		}{
			{"all", strata.EventFilter{}, "1 2 3 4 5"},
			{"by service", strata.EventFilter{Service: "api"}, "1 3 4"},
			{"by environment", strata.EventFilter{Environment: "prod"}, "3 4 5"},
			{"by actor", strata.EventFilter{Actor: "alice"}, "1 3 5"},
			{"by action", strata.EventFilter{Action: "deploy"}, "1 2 4"},
			{"by actor and environment", strata.EventFilter{Actor: "alice", Environment: "prod"}, "3 5"},
			{"the newest two", strata.EventFilter{Limit: 2}, "4 5"},
			{"the newest two of a service", strata.EventFilter{Service: "api", Limit: 2}, "3 4"},
			{"nothing matches", strata.EventFilter{Actor: "mallory"}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				evs, err := s.Events(ctx(t), tt.f)
				must(t, err)
				var got []string
				for _, e := range evs {
					got = append(got, e.Subject)
				}
				if g := strings.Join(got, " "); g != tt.want {
					t.Fatalf("events = %q, want %q", g, tt.want)
				}
			})
		}
	})

	t.Run("concurrent audited changes keep one unbroken chain", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 5 {
					err := s.AppendEvent(ctx(t), &strata.Event{Actor: fmt.Sprint("w", i), Action: "tick", Subject: fmt.Sprint(j)})
					if err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 40 {
			t.Fatalf("%d events, want 40", len(evs))
		}
		verify(t, evs)
	})
}
