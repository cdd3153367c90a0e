package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
)

// testFinishAndCreate checks the write a worker makes when it ends one deployment and
// starts its next: both in one call, the first standing even when the second is refused.
// Every case runs twice: with events that name nothing (the store fills in their subject,
// service and environment from the records) and with events that name their service and
// environment, as the engine's do, which a store may write together with the change they
// record without reading anything first. Either way a refused or failed part must leave no
// event behind.
func testFinishAndCreate(t *testing.T, open func(t *testing.T) strata.Store) {
	styles := []struct {
		name string
		ev   func(action string, d *strata.Deployment) *strata.Event
	}{
		{"with events that name nothing", func(action string, d *strata.Deployment) *strata.Event {
			return &strata.Event{Actor: "alice", Action: action}
		}},
		{"with events that name their service and environment", func(action string, d *strata.Deployment) *strata.Event {
			return &strata.Event{Actor: "alice", Action: action, Service: d.Service, Environment: d.Environment}
		}},
	}
	for _, style := range styles {
		t.Run(style.name, func(t *testing.T) { testFinishAndCreateWith(t, open, style.ev) })
	}
}

func testFinishAndCreateWith(t *testing.T, open func(t *testing.T) strata.Store, ev func(action string, d *strata.Deployment) *strata.Event) {
	t.Run("it finishes one deployment and claims the next, auditing both in order", func(t *testing.T) {
		s := open(t)
		done := create(t, s, deployment("api", "dev", 1))
		done.State, done.Health = strata.Succeeded, strata.Healthy
		next := deployment("api", "staging", 1)
		must(t, s.FinishAndCreate(ctx(t), done, ev("deployment.succeeded", done), next, ev("deploy", next)))
		if !strings.HasPrefix(next.ID, "d-") || next.CreatedAt.IsZero() {
			t.Fatalf("the next deployment has id %q and time %v, want a d- id and a time", next.ID, next.CreatedAt)
		}
		if done.FinishedAt.IsZero() || done.Owner != (strata.Owner{}) {
			t.Fatalf("the finished deployment keeps owner %+v and finish time %v; want them cleared and set", done.Owner, done.FinishedAt)
		}
		got, err := s.Deployment(ctx(t), done.ID)
		must(t, err)
		if got.State != strata.Succeeded || got.Health != strata.Healthy {
			t.Fatalf("the finished deployment reads back %s/%s, want succeeded/healthy", got.State, got.Health)
		}
		got, err = s.Deployment(ctx(t), next.ID)
		must(t, err)
		checkDeployment(t, got, next)
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		verify(t, evs)
		if len(evs) != 2 || evs[0].Action != "deployment.succeeded" || evs[0].Subject != done.ID || evs[0].Environment != "dev" ||
			evs[1].Action != "deploy" || evs[1].Subject != next.ID || evs[1].Environment != "staging" {
			t.Fatalf("events = %+v; want the finish of %s, then the claim of %s", evs, done.ID, next.ID)
		}
		// The next deployment holds its pair like any claim.
		wantCode(t, s.CreateDeployment(ctx(t), deployment("api", "staging", 2), nil), strata.EBLOCKED)
	})

	t.Run("a claim of a held pair is refused and the finish still stands", func(t *testing.T) {
		s := open(t)
		holder := create(t, s, deployment("api", "prod", 2))
		done := create(t, s, deployment("api", "dev", 1))
		done.State = strata.Succeeded
		next := deployment("api", "prod", 1)
		err := s.FinishAndCreate(ctx(t), done, ev("deployment.succeeded", done), next, ev("deploy", next))
		var refused *strata.ClaimError
		if !errors.As(err, &refused) {
			t.Fatalf("err = %v, want a *strata.ClaimError: the finish stood", err)
		}
		wantCode(t, err, strata.EBLOCKED)
		wantCode(t, refused.Err, strata.EBLOCKED)
		if !strings.Contains(err.Error(), holder.ID) {
			t.Fatalf("the refusal %q does not name the holder %s", err, holder.ID)
		}
		if next.ID != "" {
			t.Fatalf("the refused deployment was given id %s", next.ID)
		}
		got, err := s.Deployment(ctx(t), done.ID)
		must(t, err)
		if got.State != strata.Succeeded {
			t.Fatalf("the finished deployment reads back %s, want succeeded", got.State)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		verify(t, evs)
		if len(evs) != 1 || evs[0].Action != "deployment.succeeded" {
			t.Fatalf("events = %+v; want the finish alone", evs)
		}
		all, err := s.Deployments(ctx(t), strata.DeploymentFilter{})
		must(t, err)
		if len(all) != 2 {
			t.Fatalf("%d deployments, want the holder and the finished one", len(all))
		}
		// The chain goes on from the finish: nothing the refused claim sent is in it.
		must(t, s.AppendEvent(ctx(t), &strata.Event{Actor: "alice", Action: "note"}))
		evs, err = s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		verify(t, evs)
	})

	t.Run("a finish by an owner who lost the deployment writes nothing and claims nothing", func(t *testing.T) {
		s := open(t)
		done := create(t, s, deployment("api", "dev", 1))
		done.State = strata.Succeeded
		done.Owner = owner(9)
		next := deployment("api", "staging", 1)
		err := s.FinishAndCreate(ctx(t), done, ev("deployment.succeeded", done), next, ev("deploy", next))
		wantCode(t, err, strata.ECONFLICT)
		var refused *strata.ClaimError
		if errors.As(err, &refused) {
			t.Fatalf("err = %v is a claim's failure; want the finish's own: nothing was tried", err)
		}
		got, err := s.Deployment(ctx(t), done.ID)
		must(t, err)
		if got.State != strata.Running {
			t.Fatalf("the deployment reads back %s, want still running", got.State)
		}
		all, err := s.Deployments(ctx(t), strata.DeploymentFilter{Environment: "staging"})
		must(t, err)
		if len(all) != 0 {
			t.Fatalf("the next deployment was recorded: %s", ids(all))
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 0 {
			t.Fatalf("events = %+v; want none", evs)
		}
	})

	t.Run("a next deployment that is not valid is refused and the finish still stands", func(t *testing.T) {
		s := open(t)
		done := create(t, s, deployment("api", "dev", 1))
		done.State = strata.Failed
		err := s.FinishAndCreate(ctx(t), done, ev("deployment.failed", done), &strata.Deployment{Service: "api"}, nil)
		var refused *strata.ClaimError
		if !errors.As(err, &refused) {
			t.Fatalf("err = %v, want a *strata.ClaimError: the finish stood", err)
		}
		wantCode(t, err, strata.EINVALID)
		got, err := s.Deployment(ctx(t), done.ID)
		must(t, err)
		if got.State != strata.Failed {
			t.Fatalf("the finished deployment reads back %s, want failed", got.State)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 1 || evs[0].Action != "deployment.failed" {
			t.Fatalf("events = %+v; want the finish alone", evs)
		}
	})

	t.Run("many workers handing over at once, some refused, each write only what stood", func(t *testing.T) {
		// Writers that arrive together may share a transaction (and, on a server, one round
		// trip): one whose claim is refused or whose lease was lost must not take the
		// others' writes, nor leave its own events, with it.
		s := open(t)
		const workers = 24 // the first half all succeed; in the second, some are refused
		held := create(t, s, deployment("web", "held", 99))
		type worker struct {
			done, next *strata.Deployment
			err        error
		}
		// fate says what becomes of worker i: 0 all goes well, 1 its claim is refused, 2 its
		// finish is refused.
		fate := func(i int) int {
			if i < workers/2 {
				return 0
			}
			return i % 4 % 3
		}
		ws := make([]*worker, workers)
		for i := range ws {
			w := &worker{done: create(t, s, deployment("api", fmt.Sprint("from-", i), i))}
			w.done.State = strata.Succeeded
			w.next = deployment("api", fmt.Sprint("to-", i), i)
			switch fate(i) {
			case 1: // its next pair is held
				w.next = deployment("web", "held", i)
			case 2: // another owner took its deployment
				w.done.Owner = owner(50 + i)
			}
			ws[i] = w
		}
		before, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		for _, half := range [][]*worker{ws[:workers/2], ws[workers/2:]} {
			var wg sync.WaitGroup
			for _, w := range half {
				wg.Go(func() {
					w.err = s.FinishAndCreate(ctx(t), w.done, ev("deployment.succeeded", w.done), w.next, ev("deploy", w.next))
				})
			}
			wg.Wait()
		}
		want := len(before)
		for i, w := range ws {
			var refused *strata.ClaimError
			switch fate(i) {
			case 1:
				if !errors.As(w.err, &refused) || strata.ErrorCode(w.err) != strata.EBLOCKED || !strings.Contains(w.err.Error(), held.ID) {
					t.Errorf("worker %d: err = %v, want a claim refused, naming %s", i, w.err, held.ID)
				}
				want++
			case 2:
				if strata.ErrorCode(w.err) != strata.ECONFLICT || errors.As(w.err, &refused) {
					t.Errorf("worker %d: err = %v, want the finish's own conflict", i, w.err)
				}
			default:
				if w.err != nil {
					t.Errorf("worker %d: %v", i, w.err)
				}
				want += 2
			}
			got, err := s.Deployment(ctx(t), w.done.ID)
			must(t, err)
			if wantState := map[bool]string{true: strata.Running, false: strata.Succeeded}[fate(i) == 2]; got.State != wantState {
				t.Errorf("worker %d: its deployment reads back %s, want %s", i, got.State, wantState)
			}
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		verify(t, evs)
		if len(evs) != want {
			t.Fatalf("%d events, want %d: one per finish that stood and one per claim made", len(evs), want)
		}
		for _, e := range evs[len(before):] {
			if e.Action == "deploy" && e.Service == "web" {
				t.Fatalf("a refused claim was audited: %+v", e)
			}
		}
		active, err := s.Deployments(ctx(t), strata.DeploymentFilter{Service: "api", States: []string{strata.Pending, strata.Running, strata.Interrupted}})
		must(t, err)
		if len(active) != workers/8 /* the lost ones */ +workers/2+workers/4 /* the claims */ {
			t.Fatalf("%d active api deployments: %s", len(active), ids(active))
		}
	})

	t.Run("an update by an owner who lost the deployment writes nothing, and the owner's writes then go on", func(t *testing.T) {
		s := open(t)
		d := create(t, s, deployment("api", "dev", 1))
		stale := *d
		stale.Owner = owner(9)
		stale.State = strata.Failed
		wantCode(t, s.UpdateDeployment(ctx(t), &stale, ev("deployment.failed", &stale)), strata.ECONFLICT)
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 0 {
			t.Fatalf("events = %+v; want none", evs)
		}
		d.State = strata.Succeeded
		must(t, s.UpdateDeployment(ctx(t), d, ev("deployment.succeeded", d)))
		evs, err = s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		verify(t, evs)
		if len(evs) != 1 || evs[0].Action != "deployment.succeeded" || evs[0].Subject != d.ID || evs[0].Environment != "dev" {
			t.Fatalf("events = %+v; want the owner's success alone", evs)
		}
	})
}
