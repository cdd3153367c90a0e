package main_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// runbookEstate has a reindex anyone with deploy may run, a rotate that needs an approval,
// and a hold that sleeps with a marker (for the crash). Each appends to a scratch file what
// it saw, so the tests count runs.
const runbookEstate = `project: runbooks
environments:
  dev: {labels: {tier: dev}}
  prod: {labels: {tier: prod}}
services:
  api:
    deploy: "true"
    config:
      DB_URL: {type: string, default: "postgres://db/@SCRATCH@"}
      DB_PASSWORD: {type: string, secret: true, from: "env:RB_PASSWORD"}
    runbooks:
      reindex: "echo \"reindex $STRATA_ENV $DB_URL\" >> @SCRATCH@/runs; echo pw=$DB_PASSWORD"
      rotate:
        run: "echo \"rotate $STRATA_ENV $STRATA_RUN\" >> @SCRATCH@/runs"
        policy: {approvals: 1}
      hold: "echo hold >> @SCRATCH@/runs; @SLEEP@ 60"
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: prod
    environments: [prod]
`

type taskRun struct {
	ID, State, Service, Task, Environment, Requester, Error, Output, Agent string
	ExitCode                                                               int `json:"exit_code"`
	Approvals                                                              []struct{ Principal string }
}

func runDoc(t *testing.T, r result) taskRun {
	t.Helper()
	var d taskRun
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("not one JSON run: %v\n%s", err, r)
	}
	return d
}

func TestRunbooksRunWithTheEnvironmentsConfigThroughItsGates(t *testing.T) {
	t.Parallel()
	e := newEstate(t, runbookEstate)
	sleep, marker := e.markerSleep()
	killMarked(t, marker)
	e.write("strata.yaml", strings.ReplaceAll(strings.ReplaceAll(runbookEstate, "@SCRATCH@", e.scratch), "@SLEEP@", sleep))
	secret := `s3cr'"$(touch ` + e.scratch + `/pwned)`
	e.env = append(e.env, "RB_PASSWORD="+secret)

	t.Run("a runbook runs with the environment's config, its secret redacted from what is kept", func(t *testing.T) {
		e := e.with(t)
		r := e.must(0, "-o", "json", "run", "api", "reindex", "--env", "dev")
		d := runDoc(t, r)
		if d.State != "succeeded" || d.ExitCode != 0 || !strings.HasPrefix(d.ID, "t-") {
			t.Fatalf("run %+v", d)
		}
		if got := e.read("runs"); got != "reindex dev postgres://db/"+e.scratch+"\n" {
			t.Errorf("the task saw %q", got)
		}
		if d.Output != "pw=***\n" || strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("output %q, want the secret redacted:\n%s", d.Output, r)
		}
		show := e.must(0, "runs", "show", d.ID)
		if !strings.Contains(show.stdout, "pw=***") || strings.Contains(show.stdout, secret) {
			t.Errorf("runs show:\n%s", show)
		}
	})

	t.Run("a runbook that needs an approval waits, refuses its requester, and runs on approval", func(t *testing.T) {
		e := e.with(t)
		e.must(2, "--as", "alice", "run", "api", "rotate", "--env", "prod")
		r := e.must(3, "--as", "alice", "-o", "json", "run", "api", "rotate", "--env", "prod", "--reason", "yearly rotation")
		d := runDoc(t, r)
		if d.State != "waiting" || !strings.Contains(r.stderr, "gate approvals: 0 of 1 approvals; someone other than alice runs `strata approve "+d.ID+"`") {
			t.Fatalf("run %+v, stderr %s", d, r.stderr)
		}
		before := e.read("runs")
		e.must(2, "--as", "alice", "approve", d.ID)
		done := runDoc(t, e.must(0, "--as", "bob", "-o", "json", "approve", d.ID))
		if done.State != "succeeded" || len(done.Approvals) != 1 || done.Approvals[0].Principal != "bob" {
			t.Fatalf("after bob's approval: %+v", done)
		}
		if got := strings.TrimPrefix(e.read("runs"), before); got != "rotate prod "+d.ID+"\n" {
			t.Errorf("the approved run ran %q", got)
		}
		e.must(2, "--as", "carol", "approve", d.ID)
	})

	t.Run("a rejected run never runs", func(t *testing.T) {
		e := e.with(t)
		d := runDoc(t, e.must(3, "--as", "alice", "-o", "json", "run", "api", "rotate", "--env", "prod", "--reason", "again"))
		e.must(2, "--as", "bob", "reject", d.ID)
		rej := runDoc(t, e.must(0, "--as", "bob", "-o", "json", "reject", d.ID, "--reason", "not today"))
		if rej.State != "rejected" || !strings.Contains(rej.Error, "not today") {
			t.Fatalf("rejected run %+v", rej)
		}
		if strings.Contains(e.read("runs"), d.ID) {
			t.Error("the rejected run ran")
		}
	})

	t.Run("a frozen environment refuses a run, and an unknown runbook lists the known ones", func(t *testing.T) {
		e := e.with(t)
		e.must(0, "freeze", "dev", "--reason", "incident")
		r := e.must(3, "run", "api", "reindex", "--env", "dev")
		if !strings.Contains(r.stderr, "gate freeze: dev is frozen by") || !strings.Contains(r.stderr, "`strata unfreeze dev` reopens it") {
			t.Errorf("%s", r)
		}
		e.must(0, "unfreeze", "dev")
		r = e.must(2, "run", "api", "reindx", "--env", "dev")
		if !strings.Contains(r.stderr, "hold, reindex, rotate") || !strings.Contains(r.stderr, `did you mean "reindex"`) {
			t.Errorf("%s", r)
		}
	})

	t.Run("a run whose process dies is failed by resume, not run again", func(t *testing.T) {
		e := e.with(t)
		b := e.start("run", "api", "hold", "--env", "dev")
		waitFor(t, 30*time.Second, "the run to start", func() bool { return strings.Contains(e.read("runs"), "hold") })
		b.cmd.Process.Kill()
		b.wait(t, 10*time.Second)
		killMarked(t, marker)
		e.must(0, "resume")
		var runs []taskRun
		r := e.must(0, "-o", "json", "runs", "--env", "dev")
		if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil {
			t.Fatal(err)
		}
		if len(runs) == 0 || runs[0].Task != "hold" || runs[0].State != "failed" || !strings.Contains(runs[0].Error, "interrupted") {
			t.Fatalf("the newest run: %+v", runs)
		}
		if n := strings.Count(e.read("runs"), "hold"); n != 1 {
			t.Errorf("hold ran %d times, want once", n)
		}
	})

	if _, err := os.Stat(e.path("pwned")); err == nil {
		t.Fatal("the secret's command substitution ran")
	}
	audit := e.must(0, "audit").stdout
	for _, a := range []string{"run.request", "run.approve", "run.succeeded", "run.reject", "run.failed"} {
		if !strings.Contains(audit, a) {
			t.Errorf("the audit log has no %s", a)
		}
	}
}
