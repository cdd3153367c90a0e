package storetest

import (
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

func testEnvironments(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a created environment is listed with everything it was given", func(t *testing.T) {
		s := open(t)
		exp := time.Date(2031, 5, 1, 12, 0, 0, 123456000, time.UTC)
		env := &strata.EphemeralEnv{Name: "pr-42", Like: "staging", Labels: map[string]string{"pr": "42"}, Expires: exp, CreatedBy: "alice"}
		must(t, s.CreateEnvironment(ctx(t), env, &strata.Event{Actor: "alice", Action: "env.create"}))
		if env.CreatedAt.IsZero() {
			t.Errorf("CreatedAt was not set by the store")
		}
		got, err := s.Environments(ctx(t))
		must(t, err)
		if len(got) != 1 {
			t.Fatalf("%d environments listed, want 1", len(got))
		}
		g := got[0]
		if g.Name != "pr-42" || g.Like != "staging" || g.Labels["pr"] != "42" || len(g.Labels) != 1 || g.CreatedBy != "alice" ||
			!sameTime(g.Expires, exp) || !sameTime(g.CreatedAt, env.CreatedAt) {
			t.Errorf("listed %+v, want what was created: %+v", g, env)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{Action: "env.create"})
		must(t, err)
		if len(evs) != 1 || evs[0].Environment != "pr-42" || evs[0].Subject != "pr-42" {
			t.Errorf("events = %+v, want one env.create about pr-42", evs)
		}
	})

	t.Run("an environment without labels or expiry comes back without them", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateEnvironment(ctx(t), &strata.EphemeralEnv{Name: "sandbox", Like: "dev"}, nil))
		got, err := s.Environments(ctx(t))
		must(t, err)
		if len(got) != 1 || len(got[0].Labels) != 0 || !got[0].Expires.IsZero() {
			t.Errorf("listed %+v, want no labels and a zero expiry", got[0])
		}
	})

	t.Run("creating a name that exists is a conflict and changes nothing", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateEnvironment(ctx(t), &strata.EphemeralEnv{Name: "pr-1", Like: "dev"}, nil))
		err := s.CreateEnvironment(ctx(t), &strata.EphemeralEnv{Name: "pr-1", Like: "staging"}, &strata.Event{Actor: "bob", Action: "env.create"})
		wantCode(t, err, strata.ECONFLICT)
		got, err := s.Environments(ctx(t))
		must(t, err)
		if len(got) != 1 || got[0].Like != "dev" {
			t.Errorf("listed %+v, want the first pr-1 only", got)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 0 {
			t.Errorf("%d events after a refused create, want 0", len(evs))
		}
	})

	t.Run("an environment without a name or parent is invalid", func(t *testing.T) {
		s := open(t)
		wantCode(t, s.CreateEnvironment(ctx(t), &strata.EphemeralEnv{Like: "dev"}, nil), strata.EINVALID)
		wantCode(t, s.CreateEnvironment(ctx(t), &strata.EphemeralEnv{Name: "x"}, nil), strata.EINVALID)
	})

	t.Run("deleting forgets the environment and audits it; deleting again is not found", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateEnvironment(ctx(t), &strata.EphemeralEnv{Name: "a", Like: "dev"}, nil))
		must(t, s.CreateEnvironment(ctx(t), &strata.EphemeralEnv{Name: "b", Like: "dev"}, nil))
		must(t, s.DeleteEnvironment(ctx(t), "a", &strata.Event{Actor: "alice", Action: "env.destroy"}))
		got, err := s.Environments(ctx(t))
		must(t, err)
		if len(got) != 1 || got[0].Name != "b" {
			t.Errorf("listed %+v, want only b", got)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{Action: "env.destroy"})
		must(t, err)
		if len(evs) != 1 || evs[0].Environment != "a" {
			t.Errorf("events = %+v, want one env.destroy about a", evs)
		}
		wantCode(t, s.DeleteEnvironment(ctx(t), "a", nil), strata.ENOTFOUND)
	})

	t.Run("environments are listed oldest first", func(t *testing.T) {
		s := open(t)
		for _, n := range []string{"c", "a", "b"} {
			must(t, s.CreateEnvironment(ctx(t), &strata.EphemeralEnv{Name: n, Like: "dev"}, nil))
		}
		got, err := s.Environments(ctx(t))
		must(t, err)
		var names string
		for _, g := range got {
			names += g.Name
		}
		if names != "cab" {
			t.Errorf("order = %q, want cab (creation order)", names)
		}
	})
}
