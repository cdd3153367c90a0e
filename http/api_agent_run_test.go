package http_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/secret"
)

// TestTheAgentsProtocolForARunbookRun runs a runbook of edge (runs_on: edge) through the
// agents' routes as agnes (role agent): the run is queued, claimed once by an agent that
// names the kind, renewed and reported with its fence, and the process that asked reads
// the outcome.
func TestTheAgentsProtocolForARunbookRun(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	v := &secret.Vault{ProjectDir: x.dir, Project: "shop", KeyDir: filepath.Join(t.TempDir(), "keys")}
	if _, err := v.Keygen("edge", false); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Set("edge", "DB_PASSWORD", x.secret, "alice"); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		r   *strata.TaskRun
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := x.as("alice").RunTask(t.Context(), engine.RunRequest{Service: "api", Task: "reindex", Env: "edge"})
		done <- outcome{r, err}
	}()
	hello := map[string]any{"name": "edge-1", "pool": "edge", "version": "test", "protocol": strata.AgentProtocol}
	if r := x.do("agnes", "POST", "/api/v1/agent/register", hello); r.status != http.StatusOK {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	for deadline := time.Now().Add(time.Minute); !strings.Contains(x.do("carol", "GET", "/metrics", nil).body, `strata_pool_run_queue{pool="edge"} 1`+"\n"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run never showed queued in /metrics")
		}
	}

	t.Run("an agent that names no kinds is given no run", func(t *testing.T) {
		r := x.do("agnes", "POST", "/api/v1/agent/claim", map[string]any{"name": "edge-1", "pool": "edge", "wait_seconds": 0})
		if r.status != http.StatusOK || r.json(t)["job"] != nil {
			t.Errorf("claim: %d %s; want no job", r.status, r.body)
		}
	})
	r := x.do("agnes", "POST", "/api/v1/agent/claim", map[string]any{"name": "edge-1", "pool": "edge", "wait_seconds": 5, "kinds": []string{"deploy", "run"}})
	claimed := r.json(t)
	job, _ := claimed["job"].(map[string]any)
	id, _ := claimed["deployment"].(string)
	t.Run("an agent that names run claims it once, with its job and no secret's plaintext", func(t *testing.T) {
		if r.status != http.StatusOK || job == nil || job["kind"] != "run" || job["run"] != id || !strings.HasPrefix(id, "t-") || claimed["fence"] != 1.0 ||
			job["task"] != "reindex" || job["command"] == "" {
			t.Fatalf("claim: %d %s", r.status, r.body)
		}
		if strings.Contains(r.body, x.secret) {
			t.Errorf("the claim carries the secret's plaintext")
		}
		again := x.do("agnes", "POST", "/api/v1/agent/claim", map[string]any{"name": "edge-2", "pool": "edge", "wait_seconds": 0, "kinds": []string{"run"}})
		if again.json(t)["job"] != nil {
			t.Errorf("a second claim got %s", again.body)
		}
	})
	fenced := func(fence int, more map[string]any) map[string]any {
		m := map[string]any{"name": "edge-1", "pool": "edge", "deployment": id, "fence": fence}
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	exit := 7
	// The report asks for the next claim too (as agents do): it answers the run and a claim.
	report := fenced(1, map[string]any{"state": "failed", "exit_code": exit, "output": "reindexing with ***\n", "error": "the command exited with status 7",
		"next": true, "wait_seconds": 0, "kinds": []string{"deploy", "run"}})
	cases := []struct {
		name, path string
		body       map[string]any
		status     int
	}{
		{"a renewal with another fence is refused", "renew", fenced(2, nil), http.StatusConflict},
		{"a renewal with the claim's fence is taken", "renew", fenced(1, nil), http.StatusOK},
		{"a run's output so far with another fence is refused", "logs", fenced(2, map[string]any{"chunks": []map[string]any{{"step": "run", "data": "x"}}}), http.StatusConflict},
		{"a run's output so far is taken as logs with the claim's fence", "logs", fenced(1, map[string]any{"chunks": []map[string]any{
			{"step": "run reindex", "data": "reindexing "}, {"step": "run reindex", "data": "with ***\n"}}}), http.StatusOK},
		{"a report with another fence is refused", "report", fenced(2, map[string]any{"state": "succeeded"}), http.StatusConflict},
		{"a report with health is bad input", "report", fenced(1, map[string]any{"state": "succeeded", "health": "healthy"}), http.StatusBadRequest},
		{"the claim's report is recorded", "report", report, http.StatusOK},
		{"the same report sent again is answered as recorded (its first answer was lost)", "report", report, http.StatusOK},
		{"a report of another outcome is refused", "report", fenced(1, map[string]any{"state": "failed", "exit_code": 1}), http.StatusConflict},
		{"a renewal after the report is refused", "renew", fenced(1, nil), http.StatusConflict},
		{"output after the report is refused", "logs", fenced(1, map[string]any{"chunks": []map[string]any{{"step": "run", "data": "late\n"}}}), http.StatusConflict},
		{"another pool's agent may not report it", "report", map[string]any{"name": "edge-1", "pool": "eu", "deployment": id, "fence": 1, "state": "succeeded"}, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := x.do("agnes", "POST", "/api/v1/agent/"+c.path, c.body)
			if got.status != c.status {
				t.Errorf("status %d (%s), want %d", got.status, got.body, c.status)
			}
			if c.name == "a run's output so far is taken as logs with the claim's fence" {
				shown := x.do("carol", "GET", "/api/v1/runs/"+id, nil).json(t)
				if shown["state"] != "running" || shown["output"] != "reindexing with ***\n" {
					t.Errorf("runs show while it runs: %v; want running, the output so far", shown)
				}
			}
			if c.name == "the claim's report is recorded" {
				doc := got.json(t)
				run, _ := doc["run"].(map[string]any)
				next, ok := doc["next"].(map[string]any)
				if run == nil || run["id"] != id || run["state"] != "failed" || !ok || next["job"] != nil {
					t.Errorf("a report that asks for the next claim answered %s; want the run and an empty claim", got.body)
				}
			}
		})
	}
	t.Run("the process that asked reads the outcome: exit code, redacted output, the agent", func(t *testing.T) {
		var o outcome
		select {
		case o = <-done:
		case <-time.After(time.Minute):
			t.Fatal("RunTask did not return")
		}
		if strata.ErrorCode(o.err) != strata.EFAILED || o.r.ExitCode != 7 || o.r.Output != "reindexing with ***\n" || o.r.Agent != "edge-1" || o.r.Pool != "edge" {
			t.Errorf("run %+v, err %v", o.r, o.err)
		}
		evs, err := x.store.Events(t.Context(), strata.EventFilter{Action: "run.failed"})
		if err != nil || len(evs) != 1 || evs[0].Actor != "agnes" || evs[0].Subject != id {
			t.Errorf("run.failed events %+v, %v; want one by agnes about %s", evs, err, id)
		}
	})
}
