package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// envEstate records, in order, each destroy step that runs, and what each deploy saw.
const envEstate = `project: shop
environments:
  staging:
    labels: {tier: staging}
    config: {LOG_LEVEL: debug}
services:
  db:
    deploy: echo "URL=db.$STRATA_ENV" >> "$STRATA_OUTPUTS"
    destroy: echo "db $STRATA_ENV" >> "@SCRATCH@/destroyed"
  api:
    deploy: echo "$LOG_LEVEL ${env.labels.tier} $DB" > "@SCRATCH@/seen-$STRATA_ENV"
    destroy: echo "api $STRATA_ENV" >> "@SCRATCH@/destroyed"
    depends_on: [db]
    config:
      LOG_LEVEL: {type: string}
      DB: {type: string, default: "${outputs.db.URL}"}
  web:
    deploy: "true"
`

func actions(t *testing.T, s strata.Store, env string) string {
	t.Helper()
	evs, err := s.Events(t.Context(), strata.EventFilter{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if !strings.HasPrefix(e.Action, "deploy") {
			out = append(out, e.Action+":"+e.Service)
		}
	}
	return strings.Join(out, " ")
}

func TestShortLivedEnvironments(t *testing.T) {
	t.Run("one made like staging deploys with staging's config and its own labels", func(t *testing.T) {
		w := newWorld(t, envEstate)
		e := w.engine()
		err := e.CreateEnvironment(t.Context(), &strata.EphemeralEnv{Name: "pr-1", Like: "staging", Labels: map[string]string{"tier": "preview"}})
		if err != nil {
			t.Fatal(err)
		}
		e = w.engine() // as the next command would see it
		env := e.Project.Environment("pr-1")
		if env == nil || !env.Ephemeral || env.Extends != "staging" {
			t.Fatalf("pr-1 = %+v, want a short-lived environment like staging", env)
		}
		w.ship(e, "db", "1", "pr-1")
		w.ship(e, "api", "1", "pr-1")
		if got, want := w.read("seen-pr-1"), "debug preview db.pr-1\n"; got != want {
			t.Errorf("the deploy step saw %q, want %q", got, want)
		}
		if got := actions(t, w.store, "pr-1"); !strings.HasPrefix(got, "env.create:") {
			t.Errorf("audit = %q, want env.create first", got)
		}
	})

	t.Run("destroying runs destroy steps in reverse dependency order, audits and forgets it", func(t *testing.T) {
		w := newWorld(t, envEstate)
		e := w.engine()
		for _, n := range []string{"pr-1", "pr-2"} {
			if err := e.CreateEnvironment(t.Context(), &strata.EphemeralEnv{Name: n, Like: "staging"}); err != nil {
				t.Fatal(err)
			}
			w.ship(e, "db", "1", n)
			w.ship(e, "api", "1", n)
			w.ship(e, "web", "1", n)
		}
		done, err := e.DestroyEnvironment(t.Context(), "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(done, " ") != "api db" {
			t.Errorf("destroyed %v, want api then db (web has no destroy step)", done)
		}
		if got := w.read("destroyed"); got != "api pr-1\ndb pr-1\n" {
			t.Errorf("destroy steps ran as %q, want api then db, in pr-1 only", got)
		}
		if got, want := actions(t, w.store, "pr-1"), "env.create: destroy:api destroy:db env.destroy:"; got != want {
			t.Errorf("audit = %q, want %q", got, want)
		}
		if e.Project.Environment("pr-1") != nil || w.engine().Project.Environment("pr-1") != nil {
			t.Errorf("pr-1 is still known after its destroy")
		}
		if w.engine().Project.Environment("pr-2") == nil {
			t.Errorf("pr-2 went too")
		}
	})

	t.Run("a failed destroy step leaves the environment to destroy again", func(t *testing.T) {
		w := newWorld(t, strings.Replace(envEstate, `destroy: echo "db $STRATA_ENV"`, `destroy: test -f "@SCRATCH@/ok" && echo "db $STRATA_ENV"`, 1))
		e := w.engine()
		if err := e.CreateEnvironment(t.Context(), &strata.EphemeralEnv{Name: "pr-1", Like: "staging"}); err != nil {
			t.Fatal(err)
		}
		w.ship(e, "db", "1", "pr-1")
		_, err := e.DestroyEnvironment(t.Context(), "pr-1")
		if strata.ErrorCode(err) != strata.EFAILED || !strings.Contains(err.Error(), "run `strata env destroy pr-1` again") {
			t.Fatalf("got %v, want EFAILED saying to run it again", err)
		}
		if w.engine().Project.Environment("pr-1") == nil {
			t.Fatal("pr-1 was forgotten although its destroy failed")
		}
		w.write("ok", "")
		e = w.engine()
		if _, err := e.DestroyEnvironment(t.Context(), "pr-1"); err != nil {
			t.Fatalf("second destroy: %v", err)
		}
		if got := actions(t, w.store, "pr-1"); got != "env.create: destroy.failed:db destroy:db env.destroy:" {
			t.Errorf("audit = %q", got)
		}
	})

	t.Run("declared and unknown environments are refused", func(t *testing.T) {
		w := newWorld(t, envEstate)
		e := w.engine()
		_, err := e.DestroyEnvironment(t.Context(), "staging")
		if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), "is declared in") {
			t.Errorf("destroy staging: %v, want EINVALID saying it is declared", err)
		}
		_, err = e.DestroyEnvironment(t.Context(), "nope")
		if strata.ErrorCode(err) != strata.ENOTFOUND {
			t.Errorf("destroy nope: %v, want ENOTFOUND", err)
		}
		err = e.CreateEnvironment(t.Context(), &strata.EphemeralEnv{Name: "staging", Like: "staging"})
		if strata.ErrorCode(err) != strata.ECONFLICT {
			t.Errorf("create staging: %v, want ECONFLICT", err)
		}
	})

	t.Run("one whose parent left strata.yaml is left out but can still be forgotten", func(t *testing.T) {
		w := newWorld(t, strings.Replace(envEstate, "  staging:", "  qa: {}\n  staging:", 1))
		e := w.engine()
		if err := e.CreateEnvironment(t.Context(), &strata.EphemeralEnv{Name: "pr-1", Like: "qa"}); err != nil {
			t.Fatal(err)
		}
		w.writeYAML(envEstate)
		e = w.engine()
		if e.Project.Environment("pr-1") != nil {
			t.Fatal("pr-1 is in the project although qa is gone")
		}
		if _, err := e.DestroyEnvironment(t.Context(), "pr-1"); err != nil {
			t.Fatalf("forget pr-1: %v", err)
		}
		if envs, _ := w.store.Environments(t.Context()); len(envs) != 0 {
			t.Errorf("store still holds %v", envs)
		}
	})
}

func TestExpiredEnvironmentsAreDestroyedByResume(t *testing.T) {
	w := newWorld(t, envEstate)
	e := w.engine()
	now := time.Now()
	for n, ttl := range map[string]time.Duration{"old": time.Hour, "young": 3 * time.Hour} {
		if err := e.CreateEnvironment(t.Context(), &strata.EphemeralEnv{Name: n, Like: "staging", Expires: now.Add(ttl)}); err != nil {
			t.Fatal(err)
		}
		w.ship(e, "db", "1", n)
	}
	if err := e.CreateEnvironment(t.Context(), &strata.EphemeralEnv{Name: "forever", Like: "staging"}); err != nil {
		t.Fatal(err)
	}
	e = w.engine()
	e.Now = func() time.Time { return now.Add(2 * time.Hour) }
	res, err := e.Resume(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Destroyed) != 1 || res.Destroyed[0].Name != "old" || !res.Destroyed[0].Destroyed || strings.Join(res.Destroyed[0].Services, " ") != "db" {
		t.Errorf("destroyed %+v, want old (db) only", res.Destroyed)
	}
	if got := w.read("destroyed"); got != "db old\n" {
		t.Errorf("destroy steps ran as %q", got)
	}
	var left []string
	for _, env := range w.engine().Project.Environments {
		if env.Ephemeral {
			left = append(left, env.Name)
		}
	}
	if strings.Join(left, " ") != "young forever" && strings.Join(left, " ") != "forever young" {
		t.Errorf("left %v, want young and forever", left)
	}
}
