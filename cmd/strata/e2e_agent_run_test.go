package main_test

// End-to-end tests of runbooks on agents (issue 11 point 4): `strata run` in an environment
// that runs_on a pool records the run for the pool and waits; the agent, with no checkout
// and the only copy of the environment's key, runs it from the recipe of the release
// running there and reports its exit code and redacted output. A run is never run twice by
// itself: a kill -9 of the agent mid-run fails it once.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// agentRunYAML is agentYAML with two runbooks: reindex prints the secret (to be redacted),
// hold runs until the test lets it go.
var agentRunYAML = strings.Replace(agentYAML, "    config:\n      DB_PASSWORD", `    runbooks:
      reindex: ./ops/reindex.sh
      hold: ./ops/hold.sh
      rotate:
        run: ./ops/reindex.sh
        policy: {approvals: 1}
    config:
      DB_PASSWORD`, 1)

// rotatedSecret is prod-eu's DB_PASSWORD once rotated while a run waits for its approval:
// hostile too, and of another length than agentSecret, which the runbook writes down.
const rotatedSecret = "r0tated-$(touch pwned2)-`id`"

var agentRunFiles = map[string]string{
	"ops/reindex.sh": `#!/bin/sh
echo "reindex $STRATA_ENV $STRATA_RUN $PWD length ${#DB_PASSWORD}" >> @SCRATCH@/reindexed
echo "reindexing with password $DB_PASSWORD"
exit 3
`,
	"ops/hold.sh": `#!/bin/sh
echo "hold $STRATA_RUN $$" >> @SCRATCH@/held
i=0; while [ ! -f @SCRATCH@/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
`,
}

func TestARunbookOfAPoolsEnvironmentRunsOnItsAgentOnce(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) { testRunbookOnAgent(t, "") })
	t.Run("on PostgreSQL", func(t *testing.T) {
		_, url := pgSchema(t)
		testRunbookOnAgent(t, url)
	})
}

// testRunbookOnAgent is the runbook's path through an agent on store ("" for SQLite, else a
// PostgreSQL URL).
func testRunbookOnAgent(t *testing.T, store string) {
	x := newAgentEstateOf(t, agentRunYAML, agentRunFiles, store, "3s")
	t.Cleanup(func() { os.WriteFile(x.path("go"), nil, 0o644) })
	ops := x.remote(t, "ops")
	first := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	x.release("api", "--version", "1.0.0")
	ops.must(0, "deploy", "api@1.0.0", "--env", "prod-eu")

	t.Run("a runbook runs on the agent and its exit code and redacted output come back", func(t *testing.T) {
		for _, who := range []struct {
			name string
			cli  *estate
		}{{"from a CLI on the store, which has no key for the environment", x.estate}, {"over --server", ops}} {
			t.Run(who.name, func(t *testing.T) {
				before := strings.Count(x.read("reindexed"), "\n")
				r := who.cli.with(t).run("-o", "json", "run", "api", "reindex", "--env", "prod-eu")
				d := runDoc(t, r)
				if r.code != 1 || d.State != "failed" || d.ExitCode != 3 || !strings.Contains(d.Error, "status 3") {
					t.Fatalf("want exit 1, the run failed with the command's status 3:\n%s", r)
				}
				if d.Output != "reindexing with password ***\n" || strings.Contains(r.stdout+r.stderr, "s3cret") {
					t.Errorf("output %q; want the secret redacted:\n%s", d.Output, r)
				}
				lines := strings.Split(strings.TrimSpace(x.read("reindexed")), "\n")
				if len(lines) != before+1 || !strings.Contains(lines[len(lines)-1], "prod-eu "+d.ID+" "+first.dir) {
					t.Errorf("reindex ran %q; want once more, as %s, under the agent's directory %s", lines, d.ID, first.dir)
				}
				show := x.must(0, "runs", "show", d.ID).stdout
				if !strings.Contains(show, "on agent eu-1 of pool eu") || !strings.Contains(show, "password ***") || strings.Contains(show, "s3cret") {
					t.Errorf("runs show:\n%s", show)
				}
			})
		}
	})
	t.Run("a run that needs an approval waits, and the last approval queues it for the agent", func(t *testing.T) {
		r := ops.run("-o", "json", "run", "api", "rotate", "--env", "prod-eu", "--reason", "key leaked")
		d := runDoc(t, r)
		if r.code != 3 || d.State != "waiting" {
			t.Fatalf("want exit 3, waiting:\n%s", r)
		}
		// The secret is rotated while the run waits: the approved run gets the new one.
		withKeys := x.with(t)
		withKeys.env = append(slices.Clone(x.env), "STRATA_KEYS="+x.keys)
		set := withKeys.command("secret", "set", "prod-eu", "DB_PASSWORD")
		set.Stdin = strings.NewReader(rotatedSecret)
		if out, err := set.CombinedOutput(); err != nil {
			t.Fatalf("secret set: %v\n%s", err, out)
		}
		a := x.run("-o", "json", "approve", d.ID)
		got := runDoc(t, a)
		if a.code != 1 || got.State != "failed" || got.ExitCode != 3 || got.Output != "reindexing with password ***\n" {
			t.Errorf("want the approval to wait for the agent's run (exit 1, status 3, the new secret redacted):\n%s", a)
		}
		if strings.Contains(a.stdout+a.stderr, "r0tated") {
			t.Errorf("the rotated secret shows:\n%s", a)
		}
		ran := ""
		for _, line := range strings.Split(x.read("reindexed"), "\n") {
			if strings.Contains(line, d.ID+" "+first.dir) {
				ran = line
			}
		}
		if want := fmt.Sprintf(" length %d", len(rotatedSecret)); !strings.HasSuffix(ran, want) {
			t.Errorf("the approved run did not run on the agent with the secret of now (a line ending %q):\n%s", want, x.read("reindexed"))
		}
	})
	t.Run("the run and its outcome are audited, the outcome as the agent's", func(t *testing.T) {
		if evs := x.events("--action", "run.failed", "--actor", "eu-agent"); len(evs) != 3 {
			t.Errorf("run.failed events by eu-agent: %+v, want 3", evs)
		}
		for _, secret := range []string{"s3cret", "r0tated"} {
			if files := filesHolding(t, x.dir, secret); files != nil {
				t.Errorf("a file of the project holds the secret: %v", files)
			}
		}
	})

	t.Run("a kill -9 of the agent mid-run fails the run once; no agent runs it again", func(t *testing.T) {
		holding := ops.start("-o", "json", "run", "api", "hold", "--env", "prod-eu")
		waitFor(t, 30*time.Second, "the hold to start on the agent", func() bool { return x.read("held") != "" })
		var agents []struct {
			Name    string   `json:"name"`
			Running []string `json:"running"`
		}
		jsonDoc(t, ops.must(0, "agent", "list", "-o", "json"), &agents)
		if len(agents) != 1 || len(agents[0].Running) != 1 || !strings.HasPrefix(agents[0].Running[0], "t-") {
			t.Errorf("agent list while the hold runs: %+v; want eu-1 running one t-… run", agents)
		}
		if err := first.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		first.wait(t, 10*time.Second)
		r := holding.wait(t, 60*time.Second)
		d := runDoc(t, r)
		if r.code != 1 || d.State != "failed" || !strings.Contains(d.Error, "agent eu-1, which ran it, stopped renewing its lease") {
			t.Fatalf("want exit 1, failed as interrupted:\n%s", r)
		}
		// With no agent connected a run waits queued, and resume leaves it so: it was not
		// claimed, so nothing of it can have run.
		queued := ops.start("-o", "json", "run", "api", "reindex", "--env", "prod-eu")
		waitFor(t, 30*time.Second, "the next run to wait for an agent", func() bool {
			return strings.Contains(x.must(0, "runs", "--env", "prod-eu").stdout, "(waiting for an agent of pool eu)")
		})
		x.must(0, "resume")
		if text := x.must(0, "runs", "--env", "prod-eu").stdout; !strings.Contains(text, "running    api/reindex in prod-eu by ops") ||
			!strings.Contains(text, "(waiting for an agent of pool eu)") {
			t.Errorf("after resume, the queued run is not waiting:\n%s", text)
		}
		// A second agent takes what is queued (oldest first): the held run, were it
		// claimable, would come before.
		second := x.startAgent(t, "eu-2", x.tokens["eu-agent"])
		after := runDoc(t, queued.wait(t, 60*time.Second))
		if after.State != "failed" || after.ExitCode != 3 || after.Agent != "eu-2" {
			t.Fatalf("the queued run %+v; want it run by the second agent\n%s", after, mustRead(t, second.stderr))
		}
		if held := strings.Split(strings.TrimSpace(x.read("held")), "\n"); len(held) != 1 {
			t.Errorf("hold ran %d times: %q", len(held), held)
		}
		got := runDoc(t, x.must(0, "-o", "json", "runs", "show", d.ID))
		if got.State != "failed" {
			t.Errorf("the held run is %s, want failed", got.State)
		}
		n := 0
		for _, ev := range x.events("--action", "run.failed") {
			if ev.Subject == d.ID {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d run.failed events for %s, want 1", n, d.ID)
		}
	})
	t.Run("the audit log holds", x.auditHolds)
}

// agentLiveYAML is agentYAML with a runbook that prints a line with the secret (to be
// redacted) and then runs until the test lets it go.
var agentLiveYAML = strings.Replace(agentYAML, "    config:\n      DB_PASSWORD", `    runbooks:
      migrate: ./ops/migrate.sh
      reviewed:
        run: ./ops/migrate.sh
        policy: {approvals: 1}
    config:
      DB_PASSWORD`, 1)

var agentLiveFiles = map[string]string{
	"ops/migrate.sh": `#!/bin/sh
echo "migrating $STRATA_RUN with password $DB_PASSWORD"
i=0; while [ ! -f @SCRATCH@/migrate-$STRATA_RUN ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
echo "migrated $STRATA_RUN"
`,
}

func TestARunbookOnAnAgentShowsItsOutputWhileItRuns(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) { testRunOutputWhileItRuns(t, "") })
	t.Run("on PostgreSQL", func(t *testing.T) {
		_, url := pgSchema(t)
		testRunOutputWhileItRuns(t, url)
	})
}

// testRunOutputWhileItRuns runs a runbook on an agent that prints its first line and then
// waits for the test: the line, redacted, shows in `runs show` and in the waiting `strata
// run`'s stderr before the test lets the runbook end.
func testRunOutputWhileItRuns(t *testing.T, store string) {
	x := newAgentEstateOf(t, agentLiveYAML, agentLiveFiles, store, "30s")
	ops := x.remote(t, "ops")
	ag := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	x.release("api", "--version", "1.0.0")
	ops.must(0, "deploy", "api@1.0.0", "--env", "prod-eu")
	// started returns the id of the migrate run that is running once it is claimed.
	started := func(t *testing.T, seen map[string]bool) string {
		t.Helper()
		id := ""
		waitFor(t, 30*time.Second, "the migrate run to be claimed", func() bool {
			var runs []taskRun
			jsonDoc(t, x.must(0, "-o", "json", "runs", "--env", "prod-eu"), &runs)
			for _, r := range runs {
				if r.Task == "migrate" && r.State == "running" && r.Agent == "eu-1" && !seen[r.ID] {
					id = r.ID
				}
			}
			return id != ""
		})
		seen[id] = true
		return id
	}
	seen := map[string]bool{}

	for _, c := range []struct {
		name string
		cli  *estate
		json bool
	}{{"the waiting strata run and runs show show the first line, redacted, while it runs", x.estate, false},
		{"over --server too", ops, false},
		{"with -o json the waiting strata run shows none of it", x.estate, true}} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"run", "api", "migrate", "--env", "prod-eu"}
			if c.json {
				args = append([]string{"-o", "json"}, args...)
			}
			waiting := c.cli.start(args...)
			id := started(t, seen)
			first := "migrating " + id + " with password ***"
			waitFor(t, 30*time.Second, "runs show to show the first line", func() bool {
				return strings.Contains(x.must(0, "runs", "show", id).stdout, first)
			})
			if !c.json {
				waitFor(t, 30*time.Second, "the waiting strata run's stderr to show the first line", func() bool {
					return strings.Contains(mustRead(t, waiting.stderr), "api/prod-eu | "+first)
				})
			}
			if show := x.must(0, "-o", "json", "runs", "show", id); strings.Contains(show.stdout, "migrated") {
				t.Fatalf("the run ended before the test let it:\n%s", show)
			}
			x.write("../scratch/migrate-"+id, "")
			r := waiting.wait(t, 60*time.Second)
			if r.code != 0 {
				t.Fatalf("want exit 0:\n%s", r)
			}
			whole := first + "\nmigrated " + id + "\n"
			got := runDoc(t, x.must(0, "-o", "json", "runs", "show", id))
			if got.State != "succeeded" || got.Output != whole {
				t.Errorf("the run ended %s with output %q; want succeeded, the whole output %q", got.State, got.Output, whole)
			}
			shown := strings.Count(r.stderr, "api/prod-eu | "+first) == 1 && strings.Count(r.stderr, "api/prod-eu | migrated "+id) == 1
			if shown == c.json {
				t.Errorf("stderr shows the output (each line once): %v, want %v:\n%s", shown, !c.json, r.stderr)
			}
			if c.json {
				if d := runDoc(t, r); d.Output != whole {
					t.Errorf("the document's output %q, want %q", d.Output, whole)
				}
			}
			for _, secret := range []string{"s3cret", "pwned"} {
				if strings.Contains(r.stdout+r.stderr+got.Output, secret) {
					t.Errorf("%q shows:\n%s", secret, r)
				}
			}
		})
	}
	t.Run("an approval over --server that runs it shows its output while it runs", func(t *testing.T) {
		d := runDoc(t, x.must(3, "-o", "json", "run", "api", "reviewed", "--env", "prod-eu", "--reason", "schema change"))
		approving := ops.start("approve", d.ID)
		first := "migrating " + d.ID + " with password ***"
		waitFor(t, 30*time.Second, "the approving CLI's stderr to show the first line", func() bool {
			return strings.Contains(mustRead(t, approving.stderr), "api/prod-eu | "+first)
		})
		x.write("../scratch/migrate-"+d.ID, "")
		r := approving.wait(t, 60*time.Second)
		if r.code != 0 || strings.Count(r.stderr, "api/prod-eu | "+first) != 1 || strings.Count(r.stderr, "api/prod-eu | migrated "+d.ID) != 1 {
			t.Errorf("want exit 0 and each line of the output once on stderr:\n%s", r)
		}
	})
	t.Run("the secret is in no log of the server or the agent, nor in a file", func(t *testing.T) {
		for name, path := range map[string]string{"server": x.server.stderr, "agent": ag.stderr} {
			if log := mustRead(t, path); strings.Contains(log, "s3cret") {
				t.Errorf("the %s's log holds the secret:\n%s", name, log)
			}
		}
		for _, dir := range []string{x.dir, ag.dir} {
			if files := filesHolding(t, dir, "s3cret"); files != nil {
				t.Errorf("files hold the secret: %v", files)
			}
		}
	})
	t.Run("the audit log holds", x.auditHolds)
}

// agentDestroyYAML is agentYAML with a destroy step that prints the secret.
var agentDestroyYAML = strings.Replace(agentYAML, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    destroy: ./ops/destroy.sh\n", 1)

var agentDestroyFiles = map[string]string{
	"ops/destroy.sh": `#!/bin/sh
echo "destroy $STRATA_ENV $STRATA_VERSION $STRATA_DEPLOYMENT $PWD" >> @SCRATCH@/destroyed
echo "dropping with password $DB_PASSWORD"
`,
}

func TestAShortLivedEnvironmentOfAPoolIsDestroyedOnItsAgent(t *testing.T) {
	x := newAgentEstateOf(t, agentDestroyYAML, agentDestroyFiles, "", "30s")
	ops := x.remote(t, "ops")
	ag := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	x.release("api", "--version", "1.0.0")
	withKeys := x.with(t)
	withKeys.env = append(slices.Clone(x.env), "STRATA_KEYS="+x.keys)
	for _, env := range []string{"pr-1", "pr-2"} {
		ttl := "24h"
		if env == "pr-2" {
			ttl = "4s" // past by the time the loop below runs resume
		}
		ops.must(0, "env", "create", env, "--like", "prod-eu", "--ttl", ttl)
		withKeys.must(0, "secret", "keygen", env)
		set := withKeys.command("secret", "set", env, "DB_PASSWORD")
		set.Stdin = strings.NewReader(agentSecret)
		if out, err := set.CombinedOutput(); err != nil {
			t.Fatalf("secret set: %v\n%s", err, out)
		}
		ops.must(0, "deploy", "api@1.0.0", "--env", env)
	}

	destroyedOn := func(t *testing.T, env string) {
		t.Helper()
		var line string
		for _, l := range strings.Split(x.read("destroyed"), "\n") {
			if strings.HasPrefix(l, "destroy "+env+" ") {
				if line != "" {
					t.Fatalf("%s was destroyed twice:\n%s", env, x.read("destroyed"))
				}
				line = l
			}
		}
		if !strings.HasPrefix(line, "destroy "+env+" 1.0.0 d-") || !strings.Contains(line, " "+ag.dir) {
			t.Errorf("the destroy step of %s ran as %q; want once, for 1.0.0's deployment, under the agent's directory %s", env, line, ag.dir)
		}
		var runs []taskRun
		jsonDoc(t, x.must(0, "runs", "--env", env, "-o", "json"), &runs)
		if len(runs) != 1 || runs[0].State != "succeeded" || runs[0].Task != "destroy" || runs[0].Output != "dropping with password ***\n" {
			t.Errorf("the runs of %s: %+v; want its destroy, succeeded, the secret redacted", env, runs)
		}
		if evs := x.events("--action", "destroy", "--env", env); len(evs) != 1 || evs[0].Actor != "eu-agent" {
			t.Errorf("destroy events of %s: %+v; want one, by the agent's token", env, evs)
		}
	}
	t.Run("env destroy from a CLI with no key for it runs the destroy step on the agent", func(t *testing.T) {
		r := x.must(0, "env", "destroy", "pr-1")
		if strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("the secret is shown:\n%s", r)
		}
		destroyedOn(t, "pr-1")
	})
	t.Run("the destroy a time to live starts runs on the agent too", func(t *testing.T) {
		waitFor(t, 30*time.Second, "pr-2 to expire and be destroyed by resume", func() bool {
			x.run("resume")
			return strings.Contains(x.read("destroyed"), "destroy pr-2 ")
		})
		destroyedOn(t, "pr-2")
	})
	t.Run("the audit log holds", x.auditHolds)
}

// agentObserveYAML is agentYAML with an observe step that reports the deployed version, or
// what the file observed holds.
var agentObserveYAML = strings.Replace(agentYAML, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    observe: ./ops/observe.sh\n", 1)

var agentObserveFiles = map[string]string{
	"ops/observe.sh": `#!/bin/sh
echo "observe $STRATA_ENV $PWD" >> @SCRATCH@/observations
if [ -f @SCRATCH@/observed ]; then cat @SCRATCH@/observed; else echo "$STRATA_VERSION"; fi
`,
}

func TestDriftObservesAPoolsEnvironmentOnItsAgent(t *testing.T) {
	x := newAgentEstateOf(t, agentObserveYAML, agentObserveFiles, "", "30s")
	ops := x.remote(t, "ops")
	ag := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	x.release("api", "--version", "1.0.0")
	ops.must(0, "deploy", "api@1.0.0", "--env", "prod-eu")
	versionItems := func(t *testing.T, r result) []string {
		t.Helper()
		var doc driftDoc
		jsonDoc(t, r, &doc)
		var out []string
		for _, it := range doc.Drift {
			if it.Kind == "version" {
				out = append(out, it.Environment+": "+it.Detail)
			}
		}
		return out
	}

	t.Run("observe runs on the agent, from a CLI with no key for the environment", func(t *testing.T) {
		r := x.must(0, "drift", "--env", "prod-eu", "-o", "json")
		if items := versionItems(t, r); len(items) != 0 {
			t.Errorf("version drift %v, want none", items)
		}
		lines := strings.Split(strings.TrimSpace(x.read("observations")), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "observe prod-eu "+ag.dir) {
			t.Errorf("observe ran %q; want once, under the agent's directory %s", lines, ag.dir)
		}
	})
	t.Run("what the agent observes is version drift, also over --server", func(t *testing.T) {
		x.write("../scratch/observed", "0.9.0\n")
		for _, cli := range []*estate{x.estate, ops} {
			r := cli.with(t).must(1, "drift", "--env", "prod-eu", "-o", "json")
			if items := versionItems(t, r); len(items) != 1 || !strings.Contains(items[0], "observed 0.9.0, but 1.0.0 was deployed") {
				t.Errorf("version drift %v, want prod-eu observed 0.9.0", items)
			}
		}
	})
	t.Run("with no agent of the pool, drift says so within --agent-wait and nothing runs later", func(t *testing.T) {
		if err := ag.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		ag.wait(t, 10*time.Second)
		before := x.read("observations")
		r := x.must(1, "drift", "--env", "prod-eu", "--agent-wait", "2s", "-o", "json")
		if items := versionItems(t, r); len(items) != 1 || !strings.Contains(items[0], "could not observe: no agent of pool eu answered within 2s") {
			t.Errorf("version drift %v, want prod-eu could not observe: no agent answered", items)
		}
		// A new agent then runs the next drift's observe only: the withdrawn one is not run.
		x.startAgent(t, "eu-2", x.tokens["eu-agent"])
		x.must(1, "drift", "--env", "prod-eu", "-o", "json")
		if got := strings.TrimPrefix(x.read("observations"), before); strings.Count(got, "\n") != 1 {
			t.Errorf("after the withdrawn observe, observe ran %q; want once (the new drift's)", got)
		}
	})
	t.Run("runs lists the observe steps only when asked to", func(t *testing.T) {
		var runs []taskRun
		jsonDoc(t, x.must(0, "runs", "--env", "prod-eu", "-o", "json"), &runs)
		if len(runs) != 0 {
			t.Errorf("runs lists %+v; want no observe step by default", runs)
		}
		jsonDoc(t, x.must(0, "runs", "--env", "prod-eu", "--kind", "observe", "-o", "json"), &runs)
		if len(runs) < 4 || runs[0].Task != "observe" {
			t.Errorf("runs --kind observe lists %+v; want the observe steps", runs)
		}
		x.must(2, "runs", "--kind", "everything")
	})
	t.Run("a wait that is not a duration is refused", func(t *testing.T) {
		r := x.must(2, "drift", "--agent-wait", "soon")
		if !strings.Contains(r.stderr, "--agent-wait") {
			t.Errorf("want the flag named:\n%s", r)
		}
	})
}
