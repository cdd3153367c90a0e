package main_test

// A failed deployment of a pool is rolled back once, by the report of its failure, whether
// or not the process that asked for it still waits (issue 11, durability).

import (
	"strings"
	"testing"
	"time"
)

// failingHealthYAML is agentYAML with a health check that fails for 2.0.0 only.
var failingHealthYAML = strings.Replace(agentYAML, `health: {command: "test -n \"$DB_PASSWORD\"", timeout: 5s}`,
	`health: {command: "test \"$STRATA_VERSION\" != 2.0.0 && test -n \"$DB_PASSWORD\"", timeout: 5s, interval: 100ms}`, 1)

func TestAFailedAgentDeploymentIsRolledBackOnceThoughItsAskerWasKilled(t *testing.T) {
	if failingHealthYAML == agentYAML {
		t.Fatal("the health check to replace is not in agentYAML")
	}
	t.Run("on SQLite", func(t *testing.T) { testRolledBackOnce(t, "") })
	t.Run("on PostgreSQL", func(t *testing.T) {
		_, url := pgSchema(t)
		testRolledBackOnce(t, url)
	})
}

// testRolledBackOnce is the test on store ("" for SQLite, else a PostgreSQL URL).
func testRolledBackOnce(t *testing.T, store string) {
	x := newAgentEstate(t, store, "30s")
	x.write("strata.yaml", failingHealthYAML)
	ag := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- history\n%s\n--- agent\n%s\n--- server\n%s", x.run("history", "api").stdout, mustRead(t, ag.stderr), mustRead(t, x.server.stderr))
		}
	})
	x.release("api", "--version", "1.0.0")
	x.must(0, "deploy", "api@1.0.0", "--env", "prod-eu")
	x.release("api", "--version", "2.0.0")

	// The asker is a CLI on the shared store, kill -9'd while the agent runs the step.
	x.write("../scratch/hang", "")
	asker := x.start("deploy", "api@2.0.0", "--env", "prod-eu", "-o", "json")
	waitFor(t, 30*time.Second, "2.0.0 to start on the agent", func() bool {
		for _, r := range x.runs(t) {
			if r.env == "prod-eu" && r.version == "2.0.0" {
				return true
			}
		}
		return false
	})
	if err := asker.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	asker.wait(t, 10*time.Second)
	x.write("../scratch/go", "")

	var failed deployment
	waitFor(t, 60*time.Second, "the rollback to 1.0.0 to succeed", func() bool {
		ds := find(x.history("api", "--env", "prod-eu"), "api", "prod-eu")
		for _, d := range ds {
			if d.Version == "2.0.0" {
				failed = d
			}
		}
		return len(ds) > 0 && ds[0].Kind == "rollback" && ds[0].State == "succeeded"
	})
	x.must(0, "resume") // a resume after the asker's death takes nothing over again

	t.Run("the failure is recorded rolled back, with one rollback, run by the agent", func(t *testing.T) {
		if failed.State != "rolled_back" || !strings.Contains(failed.Error, "health check failed") {
			t.Errorf("2.0.0's deployment %+v; want rolled_back after its health check failed", failed)
		}
		var rollbacks []deployment
		for _, d := range find(x.history("api", "--env", "prod-eu"), "api", "prod-eu") {
			if d.Kind == "rollback" {
				rollbacks = append(rollbacks, d)
			}
		}
		if len(rollbacks) != 1 || rollbacks[0].RollbackOf != failed.ID || rollbacks[0].Version != "1.0.0" || rollbacks[0].Attempt != 1 {
			t.Fatalf("rollbacks %+v; want one, of %s, to 1.0.0, in attempt 1", rollbacks, failed.ID)
		}
		var ones []run
		for _, r := range x.runs(t) {
			if r.env == "prod-eu" && r.version == "1.0.0" {
				ones = append(ones, r)
			}
		}
		if len(ones) != 2 {
			t.Fatalf("1.0.0 ran %d times in prod-eu, want twice (the deployment and its rollback): %+v", len(ones), ones)
		}
		if !strings.HasPrefix(ones[1].pwd, ag.dir) {
			t.Errorf("the rollback ran in %s, not under the agent's directory %s", ones[1].pwd, ag.dir)
		}
	})
	t.Run("the audit log holds one automatic rollback", func(t *testing.T) {
		var v verifyDoc
		jsonDoc(t, x.must(0, "audit", "--verify", "-o", "json"), &v)
		if !v.OK {
			t.Errorf("audit --verify: %+v", v)
		}
		evs := x.events("--action", "rollback")
		if len(evs) != 1 || evs[0].Detail["rollback_of"] != failed.ID {
			t.Errorf("rollback events %+v; want one, of %s", evs, failed.ID)
		}
		if evs := x.events("--action", "deployment.rolled_back"); len(evs) != 1 || evs[0].Subject != failed.ID {
			t.Errorf("deployment.rolled_back events %+v; want one, of %s", evs, failed.ID)
		}
	})
	t.Run("an asker that still waits says how it ended, and nothing is rolled back twice", func(t *testing.T) {
		r := x.run("deploy", "api@2.0.0", "--env", "prod-eu", "-o", "json")
		var d deployment
		jsonDoc(t, r, &d)
		if r.code != 1 || d.State != "rolled_back" || !strings.Contains(r.stderr, "rolled back to 1.0.0") {
			t.Errorf("want exit 1, rolled_back, saying it rolled back to 1.0.0:\n%s", r)
		}
		if evs := x.events("--action", "rollback"); len(evs) != 2 {
			t.Errorf("%d rollback events after two failures, want 2", len(evs))
		}
		ds := find(x.history("api", "--env", "prod-eu"), "api", "prod-eu")
		if ds[0].Kind != "rollback" || ds[0].State != "succeeded" || ds[0].RollbackOf != d.ID {
			t.Errorf("the newest deployment %+v; want the rollback of %s, succeeded", ds[0], d.ID)
		}
	})
}
