package storetest

import (
	"errors"
	"strings"
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
