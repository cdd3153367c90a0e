package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/secret"
)

const poolEstate = `project: shop
environments:
  dev:
    labels: {tier: dev}
  prod-eu:
    labels: {tier: prod}
    runs_on: eu
services:
  api:
    deploy: ./deploy.sh
    rollback: previous
    health: {command: "test -f @SCRATCH@/healthy-$STRATA_VERSION", timeout: 1s, interval: 10ms}
    config:
      PORT: {type: integer, default: 8080}
      DB_PASSWORD: {type: string, secret: true}
pipeline:
  - stage: dev
    environments: [dev]
`

// hostileSecret is a secret that would run code if anything parsed it as code.
const hostileSecret = "s3cr3t'; $(touch pwned) `id` \"x"

// poolWorld is an estate whose prod-eu runs on pool eu, with prod-eu's secret set and its
// identity in a key directory only the agent is given.
func poolWorld(t *testing.T) (w *world, keys string) {
	w = newWorld(t, poolEstate)
	script := "#!/bin/sh\necho \"deploying $STRATA_VERSION to $STRATA_ENV password $DB_PASSWORD\"\n" +
		"echo \"$PWD\" > \"" + w.scratch + "/pwd-$STRATA_VERSION\"\n" +
		"grep -q DB_PASSWORD \"$STRATA_CONFIG\" && echo config-has-secret\n" +
		"[ -f \"" + w.scratch + "/fail-$STRATA_VERSION\" ] && exit 3\nexit 0\n"
	if err := os.WriteFile(filepath.Join(w.dir, "deploy.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	keys = filepath.Join(t.TempDir(), "keys")
	v := &secret.Vault{ProjectDir: w.dir, Project: "shop", KeyDir: keys}
	if _, err := v.Keygen("prod-eu", false); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Set("prod-eu", "DB_PASSWORD", hostileSecret, "alice"); err != nil {
		t.Fatal(err)
	}
	return w, keys
}

// serverEngine is the engine that asks for deployments: it must never open prod-eu's secrets.
func (w *world) serverEngine() *engine.Engine {
	e := w.engine()
	e.ServiceSecrets = func(p *strata.Project, service, env string) (map[string]string, error) {
		if env == "prod-eu" {
			w.t.Errorf("the server read the secrets of %s, which runs on an agent", env)
		}
		return map[string]string{}, nil
	}
	return e
}

// agentOnce is one agent's turn, without the HTTP between it and the store: it claims a job
// of pool eu, runs it in its own directory with the key directory keys, and reports the
// outcome with its fence as the server does for an agent (Engine.Reported, which records a
// failure's rollback with it).
func agentOnce(t *testing.T, w *world, name, keys string) *strata.Deployment {
	t.Helper()
	var d *strata.Deployment
	waitUntil(t, "a job of pool eu", func() bool {
		var err error
		now := time.Now()
		d, err = w.store.ClaimJob(t.Context(), strata.JobClaim{Pool: "eu", Envs: []string{"prod-eu"}, Agent: name, Now: now, Until: now.Add(time.Minute)}, nil)
		if err != nil && strata.ErrorCode(err) != strata.ENOTFOUND {
			t.Fatal(err)
		}
		return err == nil
	})
	j, err := engine.ParseJob(d.Job)
	if err != nil {
		t.Fatal(err)
	}
	j.Deployment = d.ID
	if strings.Contains(string(d.Job), "s3cr3t") {
		t.Errorf("the stored job holds the secret's plaintext")
	}
	work := filepath.Join(t.TempDir(), "agent-"+name)
	p := &strata.Project{Name: j.Project, Dir: filepath.Join(work, "work")}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ae := engine.New(p, w.store, name)
	// The agent's copy of the bundle: here the project's own state directory stands for
	// the fetched one (the HTTP fetch is tested end to end in cmd/strata).
	ae.StateDir = filepath.Join(w.dir, ".strata")
	out := ae.RunJob(t.Context(), j, d.Attempt, w.store, &secret.Vault{KeyDir: keys})
	d.State, d.Health, d.Outputs, d.Error = out.State, out.Health, out.Outputs, out.Error
	if _, err := w.engine().Reported(context.WithoutCancel(t.Context()), d, &strata.Event{Actor: name, Action: "deployment." + out.State, Subject: d.ID}); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestADeploymentOfAPoolRunsOnItsAgent(t *testing.T) {
	w, keys := poolWorld(t)
	e := w.serverEngine()
	if _, err := e.Release(t.Context(), "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	w.write("healthy-1.0.0", "")
	type result struct {
		d   *strata.Deployment
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "1.0.0", Env: "prod-eu"})
		done <- result{d, err}
	}()

	t.Run("it waits pending for its pool, saying no agent is connected", func(t *testing.T) {
		var d *strata.Deployment
		waitUntil(t, "the pending deployment", func() bool {
			ds, _ := w.store.Deployments(t.Context(), strata.DeploymentFilter{Environment: "prod-eu"})
			if len(ds) == 1 {
				d = ds[0]
			}
			return d != nil
		})
		if d.State != strata.Pending || d.Pool != "eu" || d.Owner.ID() != "" {
			t.Errorf("got %s for pool %q owned by %q; want pending for eu, no owner", d.State, d.Pool, d.Owner.ID())
		}
		if got := engine.PoolDetail(t.Context(), w.store, "eu", time.Now(), time.Minute); got != "waiting for an agent of pool eu; none connected" {
			t.Errorf("detail %q", got)
		}
		if d.Config["DB_PASSWORD"] != nil {
			t.Errorf("the stored config holds DB_PASSWORD: %v", d.Config["DB_PASSWORD"])
		}
	})
	ran := agentOnce(t, w, "eu-1", keys)
	res := <-done

	t.Run("the waiting process returns the agent's outcome", func(t *testing.T) {
		if res.err != nil || res.d.State != strata.Succeeded || res.d.ID != ran.ID || res.d.Agent != "eu-1" || res.d.Health != strata.Healthy {
			t.Fatalf("Deploy = %+v, %v; want %s succeeded and healthy on eu-1", res.d, res.err, ran.ID)
		}
	})
	t.Run("the step ran in the agent's directory with the secret, which the logs redact", func(t *testing.T) {
		if pwd := strings.TrimSpace(w.read("pwd-1.0.0")); !strings.Contains(pwd, "agent-eu-1") {
			t.Errorf("the step ran in %q, not the agent's directory", pwd)
		}
		chunks, err := w.store.Logs(t.Context(), ran.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		var logs strings.Builder
		for _, c := range chunks {
			logs.WriteString(c.Data)
		}
		if !strings.Contains(logs.String(), "password ***") || !strings.Contains(logs.String(), "config-has-secret") || strings.Contains(logs.String(), "s3cr3t") {
			t.Errorf("logs %q: want the secret given to the step and its config, and redacted", logs.String())
		}
		if _, err := os.Stat(filepath.Join(w.dir, "work", "pwned")); err == nil {
			t.Errorf("the secret ran as code")
		}
	})
}

// poolRunning100 is a pool world whose prod-eu runs api@1.0.0 healthy, deployed by agent
// eu-1, with api@2.0.0 released; done carries the outcome of the next Deploy a test starts.
func poolRunning100(t *testing.T) (*world, string, *engine.Engine, chan error) {
	t.Helper()
	w, keys := poolWorld(t)
	e := w.serverEngine()
	for _, v := range []string{"1.0.0", "2.0.0"} {
		if _, err := e.Release(t.Context(), "api", v); err != nil {
			t.Fatal(err)
		}
	}
	w.write("healthy-1.0.0", "")
	done := make(chan error, 1)
	go func() {
		_, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "1.0.0", Env: "prod-eu"})
		done <- err
	}()
	agentOnce(t, w, "eu-1", keys)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return w, keys, e, done
}

func TestAFailedDeploymentOfAPoolIsRolledBackByItsAgent(t *testing.T) {
	w, keys, e, done := poolRunning100(t)

	w.write("fail-2.0.0", "")
	go func() {
		_, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "2.0.0", Env: "prod-eu"})
		done <- err
	}()
	failed := agentOnce(t, w, "eu-1", keys)
	rollback := agentOnce(t, w, "eu-2", keys)
	err := <-done
	if strata.ErrorCode(err) != strata.EFAILED || !strings.Contains(err.Error(), "rolled back to 1.0.0") {
		t.Errorf("Deploy 2.0.0: %v; want EFAILED, rolled back to 1.0.0", err)
	}
	got, _ := w.store.Deployment(t.Context(), failed.ID)
	rb, _ := w.store.Deployment(t.Context(), rollback.ID)
	if got.State != strata.RolledBack || got.Error != "deploy step exited with status 3" || rb.Version != "1.0.0" || rb.Kind != engine.KindRollback || rb.State != strata.Succeeded || rb.Agent != "eu-2" {
		t.Errorf("2.0.0 %s (%q); rollback %s@%s %s on %s; want rolled_back, and 1.0.0 rolled back by eu-2", got.State, got.Error, rb.Kind, rb.Version, rb.State, rb.Agent)
	}
}

func TestAFailedDeploymentOfAPoolIsRolledBackOnceThoughNoOneWaitsForIt(t *testing.T) {
	w, keys, e, done := poolRunning100(t)
	// The asker stops waiting (it died) before the agent runs 2.0.0.
	w.write("fail-2.0.0", "")
	ctx, stop := context.WithCancel(t.Context())
	go func() {
		_, err := e.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "2.0.0", Env: "prod-eu"})
		done <- err
	}()
	waitUntil(t, "2.0.0 pending", func() bool {
		ds, _ := w.store.Deployments(t.Context(), strata.DeploymentFilter{Environment: "prod-eu", States: []string{strata.Pending}})
		return len(ds) == 1
	})
	stop()
	if err := <-done; strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("Deploy 2.0.0 after its asker stopped: %v; want EBLOCKED, stopped waiting", err)
	}
	failed := agentOnce(t, w, "eu-1", keys)
	// The agent sends its report again (its answer was lost): refused, nothing made twice.
	again := *failed
	again.Owner, again.State, again.Error = strata.AgentOwner(failed.Agent, failed.Fence), strata.Failed, "again"
	if _, err := w.engine().Reported(t.Context(), &again, &strata.Event{Actor: "eu-1", Action: "deployment.failed", Subject: failed.ID}); strata.ErrorCode(err) != strata.ECONFLICT {
		t.Errorf("the report sent again: %v; want ECONFLICT", err)
	}
	rollback := agentOnce(t, w, "eu-2", keys)
	if _, err := e.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, _ := w.store.Deployment(t.Context(), failed.ID)
	rb, _ := w.store.Deployment(t.Context(), rollback.ID)
	if got.State != strata.RolledBack || rb.RollbackOf != failed.ID || rb.Version != "1.0.0" || rb.State != strata.Succeeded {
		t.Errorf("2.0.0 %s; rollback of %q to %s %s; want rolled_back, and its rollback to 1.0.0 succeeded", got.State, rb.RollbackOf, rb.Version, rb.State)
	}
	ds, _ := w.store.Deployments(t.Context(), strata.DeploymentFilter{Environment: "prod-eu"})
	if len(ds) != 3 {
		t.Errorf("%d deployments of prod-eu; want 3 (1.0.0, 2.0.0, one rollback)", len(ds))
	}
	evs, _ := w.store.Events(t.Context(), strata.EventFilter{Action: "rollback"})
	if len(evs) != 1 || evs[0].Actor != "eu-1" {
		t.Errorf("rollback events %+v; want one, recorded with eu-1's report", evs)
	}
}

func TestASecretSourceOfAPoolIsReadOnItsAgent(t *testing.T) {
	w := newWorld(t, strings.Replace(poolEstate, "    runs_on: eu\n",
		"    runs_on: eu\n    secrets:\n      DB_PASSWORD: \"exec:pwd > @SCRATCH@/fetched-in; printf fr0m-%s source\"\n", 1))
	script := "#!/bin/sh\necho \"password $DB_PASSWORD\"\n"
	if err := os.WriteFile(filepath.Join(w.dir, "deploy.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e := w.serverEngine()
	if _, err := e.Release(t.Context(), "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	w.write("healthy-1.0.0", "")
	done := make(chan error, 1)
	go func() {
		_, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "1.0.0", Env: "prod-eu"})
		done <- err
	}()
	d := agentOnce(t, w, "eu-1", t.TempDir())
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(d.Job), "fr0m-source") || !strings.Contains(string(d.Job), "exec:pwd") {
		t.Errorf("the job %s: want the source's reference, not its value", d.Job)
	}
	if got := strings.TrimSpace(w.read("fetched-in")); !strings.Contains(got, "agent-eu-1") {
		t.Errorf("the source was read in %q, not on the agent", got)
	}
	chunks, _ := w.store.Logs(t.Context(), d.ID, 0)
	var logs strings.Builder
	for _, c := range chunks {
		logs.WriteString(c.Data)
	}
	if !strings.Contains(logs.String(), "password ***") || strings.Contains(logs.String(), "fr0m-source") {
		t.Errorf("logs %q: want the fetched secret given to the step and redacted", logs.String())
	}
}

func TestResumeLeavesQueuedRunsOfAPoolButWithdrawsObservesAndChecksNoOneWaitsFor(t *testing.T) {
	w, _ := poolWorld(t)
	e := w.engine()
	start := time.Now()
	queue := func(kind, task string) *strata.TaskRun {
		r := &strata.TaskRun{Service: "api", Environment: "prod-eu", Task: task, Kind: kind, State: strata.RunRunning,
			Requester: "alice", Pool: "eu", Job: []byte(`{}`), CreatedAt: start}
		if err := w.store.CreateTaskRun(t.Context(), r, nil); err != nil {
			t.Fatal(err)
		}
		return r
	}
	held := queue(strata.TaskRunbook, "hold")
	if _, err := w.store.ClaimRunJob(t.Context(), strata.JobClaim{Pool: "eu", Envs: []string{"prod-eu"}, Agent: "eu-1", Now: start, Until: start.Add(30 * time.Second)}, nil); err != nil {
		t.Fatal(err)
	}
	runbook, observe, check := queue(strata.TaskRunbook, "reindex"), queue(strata.TaskObserve, "observe"), queue(strata.TaskHealth, "health")
	cases := []struct {
		name                              string
		later                             time.Duration
		heldState, runbookState, observed string
	}{
		{"a minute on, the claimed run whose lease lapsed is failed and the queued ones wait", time.Minute,
			strata.RunFailed, strata.RunRunning, strata.RunRunning},
		{"past the longest wait, the observe and the health check are withdrawn and the runbook still waits", engine.MaxAgentWait + time.Minute,
			strata.RunFailed, strata.RunRunning, strata.RunFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.Now = func() time.Time { return start.Add(c.later) }
			if _, err := e.Resume(t.Context()); err != nil {
				t.Fatal(err)
			}
			for _, want := range []struct{ id, state, agent string }{{held.ID, c.heldState, "eu-1"}, {runbook.ID, c.runbookState, ""}, {observe.ID, c.observed, ""}, {check.ID, c.observed, ""}} {
				got, err := w.store.TaskRun(t.Context(), want.id)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != want.state || got.Agent != want.agent {
					t.Errorf("%s (%s) is %s (agent %q), want %s (agent %q)", got.ID, got.Task, got.State, got.Agent, want.state, want.agent)
				}
			}
		})
	}
	got, err := w.store.TaskRun(t.Context(), held.ID)
	if err != nil || !strings.Contains(got.Error, "agent eu-1, which ran it, stopped renewing its lease") {
		t.Errorf("the lapsed run: %+v, %v", got, err)
	}
}
