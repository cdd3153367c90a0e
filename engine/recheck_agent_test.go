package engine_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/secret"
)

// recheckPoolEstate's api in prod-eu, which runs on pool eu, is checked over HTTP at @URL@;
// its config has a secret the process that asks never opens.
const recheckPoolEstate = `project: shop
environments:
  prod-eu:
    runs_on: eu
services:
  api:
    deploy: "true"
    health: {http: "@URL@/healthz", contains: "ok", timeout: 1s, interval: 10ms}
    config:
      DB_PASSWORD: {type: string, secret: true}
`

// healthAgentOnce is one turn of an agent that claims the kinds of task run kinds names,
// without the HTTP between it and the store: it runs a health check it claimed with the key
// directory keys and records its report as the server does. It reports whether it claimed
// one.
func healthAgentOnce(t *testing.T, w *world, keys string, kinds ...string) bool {
	t.Helper()
	now := time.Now()
	r, err := w.store.ClaimRunJob(t.Context(), strata.JobClaim{Pool: "eu", Envs: []string{"prod-eu"}, Agent: "eu-1", Now: now,
		Until: now.Add(time.Minute), TaskKinds: kinds}, nil)
	if strata.ErrorCode(err) == strata.ENOTFOUND {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(r.Job), "s3cr3t") {
		t.Errorf("the stored job holds the secret's plaintext")
	}
	j, err := engine.ParseJob(r.Job)
	if err != nil {
		t.Fatal(err)
	}
	if j.Kind != engine.KindHealth || j.Health == nil || j.Command != "" {
		t.Errorf("job %+v; want a health check and nothing to deploy", j)
	}
	dir := filepath.Join(t.TempDir(), "work")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := engine.New(&strata.Project{Name: j.Project, Dir: dir}, w.store, "eu-1").HealthJob(t.Context(), j, &secret.Vault{KeyDir: keys})
	r.State, r.Error, r.Output, r.ExitCode, r.FinishedAt = out.State, out.Error, out.Output, *out.ExitCode, time.Now()
	if err := w.store.UpdateTaskRun(t.Context(), r, nil); err != nil {
		t.Fatal(err)
	}
	return true
}

func TestARecheckOfAPoolsDeploymentRunsOnItsAgent(t *testing.T) {
	a := &answers{body: map[string]string{}, code: map[string]int{}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	w := newWorld(t, strings.ReplaceAll(recheckPoolEstate, "@URL@", srv.URL))
	keys := filepath.Join(t.TempDir(), "keys")
	v := &secret.Vault{ProjectDir: w.dir, Project: "shop", KeyDir: keys}
	if _, err := v.Keygen("prod-eu", false); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Set("prod-eu", "DB_PASSWORD", hostileSecret, "alice"); err != nil {
		t.Fatal(err)
	}
	e := w.serverEngine()
	ctx := t.Context()
	if _, err := e.Release(ctx, "api", "1"); err != nil {
		t.Fatal(err)
	}
	rel, err := w.store.Release(ctx, "api", "1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	d := &strata.Deployment{Service: "api", Environment: "prod-eu", Version: "1", ReleaseID: rel.ID, State: strata.Succeeded, Attempt: 1,
		Pool: "eu", Config: map[string]any{"DB_PASSWORD": "***"}, CreatedAt: at, StartedAt: at, FinishedAt: at}
	if err := w.store.CreateDeployment(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	every := strata.TaskKinds()
	before := []string{strata.TaskRunbook, strata.TaskDestroy, strata.TaskObserve}
	cases := []struct {
		name       string
		code       int
		body       string
		kinds      []string
		wantHealth string
		wantDetail string
		wantErr    string
	}{
		{"a check that passes on the agent is healthy", 200, "ok", every, strata.Healthy, "", ""},
		{"a check that fails on the agent is unhealthy with what it saw, the secret redacted there", 200, "down: " + hostileSecret, every,
			strata.Unhealthy, `body does not contain "ok" (it begins "down: ***")`, ""},
		{"an agent from before health checks is never given one: no agent answers", 200, "ok", before, "", "", "no agent of pool eu answered within 300ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.set("/healthz", c.code, c.body)
			type result struct {
				c   *strata.HealthCheck
				err error
			}
			done := make(chan result, 1)
			go func() {
				hc, err := e.Recheck(engine.WithAgentWait(ctx, 300*time.Millisecond), d, nil)
				done <- result{hc, err}
			}()
			var got result
			for claimed := false; ; {
				select {
				case got = <-done:
				case <-time.After(10 * time.Millisecond):
					if !claimed {
						claimed = healthAgentOnce(t, w, keys, c.kinds...)
					}
					continue
				}
				break
			}
			if c.wantErr != "" {
				if got.err == nil || !strings.Contains(got.err.Error(), c.wantErr) {
					t.Fatalf("recheck: %v, %v; want the error %q", got.c, got.err, c.wantErr)
				}
				return
			}
			if got.err != nil {
				t.Fatal(got.err)
			}
			if got.c.Health != c.wantHealth || (c.wantDetail == "") != (got.c.Detail == "") || !strings.Contains(got.c.Detail, c.wantDetail) {
				t.Errorf("check %+v; want %s, detail holding %q", got.c, c.wantHealth, c.wantDetail)
			}
			if strings.Contains(got.c.Detail, "s3cr3t") {
				t.Errorf("the detail %q holds the secret", got.c.Detail)
			}
		})
	}
	runs, err := w.store.TaskRuns(ctx, strata.TaskRunFilter{Kinds: []string{strata.TaskHealth}})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].State != strata.RunFailed || runs[0].Agent != "" {
		t.Errorf("health runs %+v; want 3, the newest withdrawn unclaimed", runs)
	}
}

// A check whose asker stops waiting before any agent claims it (an interrupted CLI, a request
// that ended) is withdrawn at once: no agent runs it later for no one.
func TestACheckWhoseAskerStopsWaitingIsWithdrawnUnclaimed(t *testing.T) {
	w := newWorld(t, strings.ReplaceAll(recheckPoolEstate, "@URL@", "http://127.0.0.1:9"))
	keys := filepath.Join(t.TempDir(), "keys")
	v := &secret.Vault{ProjectDir: w.dir, Project: "shop", KeyDir: keys}
	if _, err := v.Keygen("prod-eu", false); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Set("prod-eu", "DB_PASSWORD", hostileSecret, "alice"); err != nil {
		t.Fatal(err)
	}
	e := w.serverEngine()
	if _, err := e.Release(t.Context(), "api", "1"); err != nil {
		t.Fatal(err)
	}
	rel, err := w.store.Release(t.Context(), "api", "1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	d := &strata.Deployment{Service: "api", Environment: "prod-eu", Version: "1", ReleaseID: rel.ID, State: strata.Succeeded, Attempt: 1,
		Pool: "eu", Config: map[string]any{"DB_PASSWORD": "***"}, CreatedAt: at, StartedAt: at, FinishedAt: at}
	if err := w.store.CreateDeployment(t.Context(), d, nil); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := e.Recheck(engine.WithAgentWait(ctx, engine.MaxAgentWait), d, nil)
		done <- err
	}()
	queued := func() []*strata.TaskRun {
		runs, err := w.store.TaskRuns(t.Context(), strata.TaskRunFilter{Kinds: []string{strata.TaskHealth}})
		if err != nil {
			t.Fatal(err)
		}
		return runs
	}
	waitUntil(t, "the check is queued for the pool", func() bool { return len(queued()) == 1 })
	stop()
	if err := <-done; err == nil {
		t.Fatal("a recheck whose asker stopped waiting returned no error")
	}
	runs := queued()
	if len(runs) != 1 || runs[0].State != strata.RunFailed || runs[0].Agent != "" || !strings.Contains(runs[0].Error, "whoever asked stopped waiting") {
		t.Fatalf("health runs %+v; want the one withdrawn unclaimed, saying its asker stopped waiting", runs)
	}
	if healthAgentOnce(t, w, keys, strata.TaskKinds()...) {
		t.Error("an agent claimed the withdrawn check")
	}
}
