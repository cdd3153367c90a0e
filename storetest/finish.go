package storetest

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

// testFinishAndCreate checks the write a worker makes when it ends one deployment and
// starts its next: both in one call, the first standing even when the second is refused.
func testFinishAndCreate(t *testing.T, open func(t *testing.T) strata.Store) {
	ev := func(action string) *strata.Event { return &strata.Event{Actor: "alice", Action: action} }

	t.Run("it finishes one deployment and claims the next, auditing both in order", func(t *testing.T) {
		s := open(t)
		done := create(t, s, deployment("api", "dev", 1))
		done.State, done.Health = strata.Succeeded, strata.Healthy
		next := deployment("api", "staging", 1)
		claimErr, err := s.FinishAndCreate(ctx(t), done, ev("deployment.succeeded"), next, ev("deploy"))
		must(t, err)
		must(t, claimErr)
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
		if len(evs) != 2 || evs[0].Action != "deployment.succeeded" || evs[0].Subject != done.ID ||
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
		claimErr, err := s.FinishAndCreate(ctx(t), done, ev("deployment.succeeded"), next, ev("deploy"))
		must(t, err)
		wantCode(t, claimErr, strata.EBLOCKED)
		if !strings.Contains(claimErr.Error(), holder.ID) {
			t.Fatalf("the refusal %q does not name the holder %s", claimErr, holder.ID)
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
	})

	t.Run("a finish by an owner who lost the deployment writes nothing and claims nothing", func(t *testing.T) {
		s := open(t)
		done := create(t, s, deployment("api", "dev", 1))
		done.State = strata.Succeeded
		done.Owner = owner(9)
		next := deployment("api", "staging", 1)
		claimErr, err := s.FinishAndCreate(ctx(t), done, ev("deployment.succeeded"), next, ev("deploy"))
		wantCode(t, err, strata.ECONFLICT)
		if claimErr != nil {
			t.Fatalf("claimErr = %v, want none: nothing was tried", claimErr)
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
		claimErr, err := s.FinishAndCreate(ctx(t), done, nil, &strata.Deployment{Service: "api"}, nil)
		must(t, err)
		wantCode(t, claimErr, strata.EINVALID)
		got, err := s.Deployment(ctx(t), done.ID)
		must(t, err)
		if got.State != strata.Failed {
			t.Fatalf("the finished deployment reads back %s, want failed", got.State)
		}
	})
}
