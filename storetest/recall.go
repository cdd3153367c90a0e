package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
)

func testRecalls(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a recall reads back with the release, alone and in the list, and is audited", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}, nil))
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "api", Version: "2", Digest: "sha256:bb"}, nil))
		r := &strata.Recall{By: "alice", Reason: "corrupts carts"}
		must(t, s.SetRecall(ctx(t), "api", "2", r, &strata.Event{Actor: "alice", Action: "recall"}))
		if r.At.IsZero() {
			t.Fatal("the recall was given no time")
		}
		one, err := s.Release(ctx(t), "api", "2")
		must(t, err)
		if one.Recalled == nil || one.Recalled.By != "alice" || one.Recalled.Reason != "corrupts carts" || !sameTime(one.Recalled.At, r.At) {
			t.Fatalf("read back recall %+v, want %+v", one.Recalled, r)
		}
		all, err := s.Releases(ctx(t), "api")
		must(t, err)
		if len(all) != 2 || all[0].Recalled == nil || all[1].Recalled != nil {
			t.Fatalf("listed %+v, want 2 recalled and 1 not", all)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{Action: "recall"})
		must(t, err)
		if len(evs) != 1 || evs[0].Service != "api" || evs[0].Subject != one.ID {
			t.Fatalf("events %+v, want one recall of %s", evs, one.ID)
		}
	})

	t.Run("an unrecall lifts the recall and a second one is not found", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}, nil))
		must(t, s.SetRecall(ctx(t), "api", "1", &strata.Recall{By: "alice", Reason: "bad"}, nil))
		must(t, s.SetRecall(ctx(t), "api", "1", nil, &strata.Event{Actor: "bob", Action: "unrecall"}))
		got, err := s.Release(ctx(t), "api", "1")
		must(t, err)
		if got.Recalled != nil {
			t.Fatalf("still recalled: %+v", got.Recalled)
		}
		wantCode(t, s.SetRecall(ctx(t), "api", "1", nil, nil), strata.ENOTFOUND)
	})

	t.Run("recalling a recalled release is a conflict that names who recalled it", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}, nil))
		must(t, s.SetRecall(ctx(t), "api", "1", &strata.Recall{By: "alice", Reason: "bad"}, nil))
		err := s.SetRecall(ctx(t), "api", "1", &strata.Recall{By: "bob", Reason: "worse"}, &strata.Event{Actor: "bob", Action: "recall"})
		wantCode(t, err, strata.ECONFLICT)
		if err != nil && !strings.Contains(err.Error(), "alice") {
			t.Errorf("error %q does not name alice", err)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{Action: "recall"})
		must(t, err)
		if len(evs) != 0 {
			t.Errorf("a refused recall was audited: %+v", evs)
		}
	})

	t.Run("a recall of an unknown release is not found and one without a reason is invalid", func(t *testing.T) {
		s := open(t)
		wantCode(t, s.SetRecall(ctx(t), "api", "9", &strata.Recall{By: "a", Reason: "b"}, nil), strata.ENOTFOUND)
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}, nil))
		wantCode(t, s.SetRecall(ctx(t), "api", "1", &strata.Recall{By: "a"}, nil), strata.EINVALID)
	})

	t.Run("of several who recall one release at once exactly one does", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}, nil))
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = s.SetRecall(ctx(t), "api", "1", &strata.Recall{By: "p", Reason: "r"}, nil) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if strata.ErrorCode(err) != strata.ECONFLICT {
				t.Errorf("a loser got %v, want a conflict", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d recalls won, want 1", ok)
		}
	})
}

func testRetired(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a retired environment reads back with its services", func(t *testing.T) {
		s := open(t)
		r := &strata.RetiredEnv{Name: "prod-ap", How: strata.HowRetire, Services: []string{"api", "db"}, By: "alice"}
		must(t, s.RetireEnvironment(ctx(t), r, &strata.Event{Actor: "alice", Action: "env.retire"}))
		got, err := s.RetiredEnvironments(ctx(t))
		must(t, err)
		if len(got) != 1 || got[0].Name != "prod-ap" || got[0].How != strata.HowRetire || !slices.Equal(got[0].Services, []string{"api", "db"}) ||
			got[0].By != "alice" || !sameTime(got[0].At, r.At) {
			t.Fatalf("read back %+v, want %+v", got, r)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{Environment: "prod-ap"})
		must(t, err)
		if len(evs) != 1 || evs[0].Action != "env.retire" {
			t.Fatalf("events %+v, want one env.retire", evs)
		}
	})

	t.Run("destroying forgets the short-lived environment with the same commit", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateEnvironment(ctx(t), &strata.EphemeralEnv{Name: "pr-7", Like: "dev"}, nil))
		must(t, s.RetireEnvironment(ctx(t), &strata.RetiredEnv{Name: "pr-7", How: strata.HowDestroy}, nil))
		envs, err := s.Environments(ctx(t))
		must(t, err)
		if len(envs) != 0 {
			t.Fatalf("short-lived environments %+v remain", envs)
		}
		got, err := s.RetiredEnvironments(ctx(t))
		must(t, err)
		if len(got) != 1 || got[0].How != strata.HowDestroy || got[0].Services == nil {
			t.Fatalf("retired %+v, want pr-7 destroyed with an empty service list", got)
		}
		wantCode(t, s.RetireEnvironment(ctx(t), &strata.RetiredEnv{Name: "pr-7", How: strata.HowDestroy}, nil), strata.ENOTFOUND)
	})

	t.Run("a retirement without a name or with an unknown how is invalid", func(t *testing.T) {
		s := open(t)
		wantCode(t, s.RetireEnvironment(ctx(t), &strata.RetiredEnv{How: strata.HowRetire}, nil), strata.EINVALID)
		wantCode(t, s.RetireEnvironment(ctx(t), &strata.RetiredEnv{Name: "x", How: "vanish"}, nil), strata.EINVALID)
	})

	t.Run("a short-lived environment's --set values and policy choice read back", func(t *testing.T) {
		s := open(t)
		env := &strata.EphemeralEnv{Name: "pr-8", Like: "staging", Set: map[string]string{"PORT": "9101", "MOTD": "it's $(rm -rf /)"}, InheritPolicy: true}
		must(t, s.CreateEnvironment(ctx(t), env, nil))
		envs, err := s.Environments(ctx(t))
		must(t, err)
		if len(envs) != 1 || envs[0].Set["PORT"] != "9101" || envs[0].Set["MOTD"] != "it's $(rm -rf /)" || !envs[0].InheritPolicy {
			t.Fatalf("read back %+v, want %+v", envs, env)
		}
	})
}
