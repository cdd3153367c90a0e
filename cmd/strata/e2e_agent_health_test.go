package main_test

// End-to-end test of health checks run again on agents: a group whose standby runs_on a
// pool is switched to from a CLI that has no key for it, and the switch's health gate runs
// the standby's health check on the pool's agent, inside its network and with its key.

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// agentGroupYAML is a group whose live member runs here and whose standby, prod-eu, runs
// on agents of pool eu. Its api's health check is a script of the release's that reads the
// hostile secret (agentSecret) and writes down, in the directory it runs in, that it ran.
const agentGroupYAML = `project: shop
environments:
  prod-eu:
    labels: {tier: prod, region: eu}
    runs_on: eu
  prod-us:
    labels: {tier: prod, region: us}
groups:
  shop:
    environments: [prod-us, prod-eu]
    live: prod-us
services:
  api:
    deploy: ./deploy.sh
    health: {command: ./ops/check.sh, timeout: 5s, interval: 100ms}
    config:
      DB_PASSWORD: {type: string, secret: true}
pipeline:
  - stage: prod
    environments: [prod-eu]
`

// agentGroupFiles' check appends a line to health-checks where it runs (the agent's
// directory), prints the secret (which must be redacted) and fails while the scratch file
// sick exists.
var agentGroupFiles = map[string]string{
	"ops/check.sh": `#!/bin/sh
echo "check $STRATA_ENV $STRATA_DEPLOYMENT length ${#DB_PASSWORD}" >> ./health-checks
echo "checking with password $DB_PASSWORD"
if [ -f @SCRATCH@/sick ]; then exit 7; fi
`,
}

// healthChecks returns the lines the check wrote in every file named health-checks under
// dir.
func healthChecks(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "health-checks" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestASwitchChecksTheHealthOfAStandbyOfAPoolOnItsAgent(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) { testSwitchHealthOnAgent(t, "") })
	t.Run("on PostgreSQL", func(t *testing.T) {
		_, url := pgSchema(t)
		testSwitchHealthOnAgent(t, url)
	})
}

// testSwitchHealthOnAgent is a switch's health gate through an agent on store ("" for
// SQLite, else a PostgreSQL URL).
func testSwitchHealthOnAgent(t *testing.T, store string) {
	x := newAgentEstateOf(t, agentGroupYAML, agentGroupFiles, store, "30s")
	ops := x.remote(t, "ops")
	ag := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	x.release("api", "--version", "1.0.0")
	ops.must(0, "deploy", "api@1.0.0", "--env", "prod-eu")
	want := fmt.Sprintf("check prod-eu %s length %d", find(x.history("api"), "api", "prod-eu")[0].ID, len(agentSecret))
	gate := func(t *testing.T, r result) (string, bool) {
		t.Helper()
		var doc switchDoc
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("not a switch document: %v\n%s", err, r)
		}
		for _, g := range doc.Gates {
			if g.Name == "health" {
				return g.Detail, g.OK
			}
		}
		t.Fatalf("no health gate:\n%s", r)
		return "", false
	}
	noSecret := func(t *testing.T, r result) {
		t.Helper()
		if strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("the secret shows:\n%s", r)
		}
	}

	t.Run("the health gate runs the check on the agent, from CLIs with no key for the environment", func(t *testing.T) {
		for _, who := range []struct {
			name string
			cli  *estate
		}{{"a CLI on the store", x.estate}, {"a CLI over --server", ops}} {
			t.Run(who.name, func(t *testing.T) {
				before := len(healthChecks(t, ag.dir))
				r := who.cli.with(t).must(0, "switch", "shop", "--to", "prod-eu", "--dry-run", "-o", "json")
				noSecret(t, r)
				if detail, ok := gate(t, r); !ok {
					t.Errorf("the health gate is closed: %s\n%s", detail, r)
				}
				lines := healthChecks(t, ag.dir)
				if len(lines) != before+1 || lines[len(lines)-1] != want {
					t.Errorf("the check wrote %q under the agent's directory; want once more %q (the secret given)", lines, want)
				}
			})
		}
		if lines := healthChecks(t, x.dir); len(lines) != 0 {
			t.Errorf("the check ran in the project's directory: %q", lines)
		}
	})
	t.Run("a check that fails on the agent refuses the switch, naming what it saw", func(t *testing.T) {
		x.write("../scratch/sick", "")
		defer os.Remove(x.path("sick"))
		r := x.must(3, "switch", "shop", "--to", "prod-eu", "-o", "json")
		noSecret(t, r)
		detail, ok := gate(t, r)
		if ok || !strings.Contains(detail, "api@1.0.0 fails its health check in prod-eu: health command exited with status 7") {
			t.Errorf("health gate %v %q; want closed, naming the check's status", ok, detail)
		}
		if !strings.Contains(r.stderr, "gate health") {
			t.Errorf("the refusal does not name the gate:\n%s", r)
		}
	})
	var next *agentProc // the agent that comes after, living as long as the test
	top := t
	t.Run("with no agent of the pool, the gate says so within --agent-wait and nothing runs later", func(t *testing.T) {
		if err := ag.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		ag.wait(t, 10*time.Second)
		before := len(healthChecks(t, ag.dir))
		r := x.must(3, "switch", "shop", "--to", "prod-eu", "--agent-wait", "2s", "-o", "json")
		if detail, _ := gate(t, r); !strings.Contains(detail, "api's health check in prod-eu could not run: no agent of pool eu answered within 2s") {
			t.Errorf("health gate %q; want it to say no agent answered", detail)
		}
		// plan --switch judges the same gate, bounded the same way, and changes nothing.
		r = x.must(0, "plan", "--switch", "shop", "--to", "prod-eu", "--agent-wait", "2s", "-o", "json")
		if detail, _ := gate(t, r); !strings.Contains(detail, "no agent of pool eu answered within 2s") {
			t.Errorf("plan --switch's health gate %q; want it to say no agent answered within 2s", detail)
		}
		x.must(2, "switch", "shop", "--to", "prod-eu", "--agent-wait", "soon")
		x.must(2, "plan", "--switch", "shop", "--to", "prod-eu", "--agent-wait", "soon")
		x.must(2, "plan", "api", "--agent-wait", "2s")
		// The next agent runs the next switch's check only: the withdrawn one is not run.
		next = x.startAgent(top, "eu-2", x.tokens["eu-agent"])
		r = x.must(0, "switch", "shop", "--to", "prod-eu", "--reason", "verified on eu", "-o", "json")
		noSecret(t, r)
		var doc switchDoc
		jsonDoc(t, r, &doc)
		if doc.State != "succeeded" || doc.To != "prod-eu" {
			t.Errorf("switch %+v; want succeeded to prod-eu", doc)
		}
		if got := len(healthChecks(t, ag.dir)); got != before {
			t.Errorf("the first agent's directory has %d checks, want %d: the withdrawn check ran", got, before)
		}
		if lines := healthChecks(t, next.dir); len(lines) != 1 || lines[0] != want {
			t.Errorf("the next agent checked %q; want once, %q", lines, want)
		}
	})
	t.Run("drift checks the side a failover left on its agent", func(t *testing.T) {
		if next == nil {
			t.Skip("no second agent")
		}
		x.must(0, "failover", "shop", "--to", "prod-us", "--reason", "eu is down")
		before := len(healthChecks(t, next.dir))
		noSecret(t, x.must(0, "drift", "--env", "prod-eu"))
		x.write("../scratch/sick", "")
		defer os.Remove(x.path("sick"))
		r := x.must(1, "drift", "--env", "prod-eu", "-o", "json")
		noSecret(t, r)
		var doc driftDoc
		jsonDoc(t, r, &doc)
		if len(doc.Drift) != 1 || doc.Drift[0].Kind != "failover" || !strings.Contains(doc.Drift[0].Detail, "api is not healthy there again: health command exited with status 7") {
			t.Errorf("drift %+v; want the failover item naming what the agent's check saw", doc.Drift)
		}
		// Healthy, the check ran once; failing, once more after its interval, as Recheck
		// runs it where the project is.
		if got := len(healthChecks(t, next.dir)); got != before+3 {
			t.Errorf("the agent ran the check %d times, want 3 (once, then twice for the failing one)", got-before)
		}
	})
	t.Run("the checks are runs of kind health, the secret in none of them nor in any file", func(t *testing.T) {
		var runs []taskRun
		r := ops.must(0, "runs", "--env", "prod-eu", "--kind", "health", "-o", "json")
		jsonDoc(t, r, &runs)
		noSecret(t, r)
		states := map[string]int{}
		for _, run := range runs {
			states[run.State+" "+run.Output]++
		}
		// Withdrawn: the switch's and plan --switch's, which no agent took within 2s.
		if len(runs) != 8 || states["succeeded healthy"] != 4 || states["failed unhealthy"] != 2 || states["failed "] != 2 {
			t.Errorf("health runs %+v; want 4 healthy, 2 unhealthy, 2 withdrawn", runs)
		}
		jsonDoc(t, x.must(0, "runs", "--env", "prod-eu", "-o", "json"), &runs)
		if len(runs) != 0 {
			t.Errorf("runs lists %+v; want no health check by default", runs)
		}
		if files := filesHolding(t, x.dir, "s3cret"); files != nil {
			t.Errorf("a file of the project holds the secret: %v", files)
		}
		for _, dir := range []string{x.dir, ag.dir} {
			filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.Name() == "pwned" {
					t.Errorf("the secret ran as shell code: %s", path)
				}
				return nil
			})
		}
		if strings.Contains(mustRead(t, ag.stderr)+mustRead(t, ag.stdout), "s3cret") {
			t.Errorf("the agent's output holds the secret")
		}
	})
	t.Run("the audit log holds", x.auditHolds)
}
