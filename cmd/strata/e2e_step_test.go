package main_test

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

const stepEstate = `project: steps
environments:
  dev: {}
services:
  stuck:
    deploy: {run: "@SLEEP@ 100 & @SLEEP@ 100", timeout: 1s}
  chatty:
    deploy: echo first line; sleep 1; echo second line
`

func TestAStepThatTimesOutHasItsWholeProcessGroupKilled(t *testing.T) {
	e := newEstate(t, stepEstate)
	sleep, marker := e.markerSleep()
	killMarked(t, marker)
	e.write("strata.yaml", strings.ReplaceAll(stepEstateWith(e), "@SLEEP@", sleep))
	e.release("stuck", "--version", "1")

	start := time.Now()
	d := e.deploy(1, "stuck@1", "--env", "dev")
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("a step with a 1s timeout held deploy for %s", took)
	}
	if d.State != "failed" {
		t.Errorf("state: got %q, want failed", d.State)
	}
	if ds := e.history("stuck"); len(ds) != 1 || ds[0].State != "failed" {
		t.Errorf("history: got %+v, want one failed deployment", ds)
	}
	if left := processesWith(marker); len(left) != 0 {
		t.Errorf("processes of the timed-out step are still running: %v (the background sleep escaped the group kill)", left)
	}
}

// stepEstateWith returns the step estate as written for e (scratch paths filled in).
func stepEstateWith(e *estate) string { return strings.ReplaceAll(stepEstate, "@SCRATCH@", e.scratch) }

func TestStepOutputIsStreamedLiveAndStored(t *testing.T) {
	e := newEstate(t, stepEstate)
	e.release("chatty", "--version", "1")

	cmd := e.command("deploy", "chatty@1", "--env", "dev")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var firstAt, secondAt time.Duration
	var all strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		all.WriteString(line + "\n")
		switch {
		case strings.Contains(line, "first line") && firstAt == 0:
			firstAt = time.Since(start)
		case strings.Contains(line, "second line") && secondAt == 0:
			secondAt = time.Since(start)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("deploy: %v\n%s", err, all.String())
	}
	ended := time.Since(start)
	if firstAt == 0 || secondAt == 0 {
		t.Fatalf("the step's lines did not reach the terminal:\n%s", all.String())
	}
	if ended-firstAt < 700*time.Millisecond {
		t.Errorf("the first line arrived %s after start and the process ended at %s: it was not streamed while the step ran", firstAt, ended)
	}
	if !strings.Contains(all.String(), "chatty") || !strings.Contains(all.String(), "dev") {
		t.Errorf("progress should name the service and environment:\n%s", all.String())
	}

	ds := e.history("chatty")
	if len(ds) != 1 {
		t.Fatalf("history: want one deployment, got %+v", ds)
	}
	logs := e.must(0, "logs", ds[0].ID)
	if !strings.Contains(logs.stdout, "first line\n") || !strings.Contains(logs.stdout, "second line\n") {
		t.Errorf("`logs %s` should show the step output as stored:\n%s", ds[0].ID, logs)
	}
}

func TestCtrlCStopsTheStepAndRecordsTheDeploymentFailed(t *testing.T) {
	e := newEstate(t, `project: steps
environments:
  dev: {}
services:
  slow:
    deploy: echo started > @SCRATCH@/started; @SLEEP@ 60 & @SLEEP@ 60
`)
	sleep, marker := e.markerSleep()
	killMarked(t, marker)
	e.write("strata.yaml", strings.ReplaceAll(readFile(t, e.dir+"/strata.yaml"), "@SLEEP@", sleep))
	e.release("slow", "--version", "1")

	b := e.start("deploy", "slow@1", "--env", "dev")
	waitFor(t, 10*time.Second, "the step to start", func() bool {
		if b.ended() {
			t.Fatalf("deploy ended early: %s", b.wait(t, time.Second))
		}
		return e.read("started") != "" && len(processesWith(marker)) >= 2
	})
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	r := b.wait(t, 15*time.Second)
	if r.code != 1 {
		t.Errorf("want exit 1 after Ctrl-C, got\n%s", r)
	}
	if left := processesWith(marker); len(left) != 0 {
		t.Errorf("the step's processes outlived Ctrl-C: %v", left)
	}
	if ds := e.history("slow"); len(ds) != 1 || ds[0].State != "failed" {
		t.Errorf("history: got %+v, want one failed deployment (not left running or interrupted)", ds)
	}
	if r := e.must(0, "resume"); !strings.Contains(r.stdout, "nothing to resume") {
		t.Errorf("a cancelled deployment is not interrupted: resume should find nothing\n%s", r)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
