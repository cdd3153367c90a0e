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
    deploy: 'echo first line; while [ ! -e "@SCRATCH@/go" ]; do sleep 0.05; done; echo second line'
`

func TestAStepThatTimesOutHasItsWholeProcessGroupKilled(t *testing.T) {
	t.Parallel()
	e := newEstate(t, stepEstate)
	sleep, marker := e.markerSleep()
	killMarked(t, marker)
	e.write("strata.yaml", strings.ReplaceAll(stepEstateWith(e), "@SLEEP@", sleep))
	e.release("stuck", "--version", "1")

	// The step sleeps 100s: that deploy ends at all (run gives it 60s) shows the timeout.
	d := e.deploy(1, "stuck@1", "--env", "dev")
	if d.State != "failed" || !strings.Contains(d.Error, "timed out after 1s") {
		t.Errorf("got %s (%q), want failed: timed out after 1s", d.State, d.Error)
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

// TestStepOutputIsStreamedLiveAndStored: the step prints a line, then waits for a file that
// the test writes only once that line has reached strata's stderr, so the line can only
// have arrived while the step ran.
func TestStepOutputIsStreamedLiveAndStored(t *testing.T) {
	t.Parallel()
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
	// Should the line never arrive while the step waits, stop after a minute rather than
	// hang, and let the step's loop end.
	stuck := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	t.Cleanup(func() {
		stuck.Stop()
		os.WriteFile(e.path("go"), nil, 0o644)
	})
	var first, second bool
	var all strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		all.WriteString(line + "\n")
		switch {
		case strings.Contains(line, "first line") && !first:
			first = true
			if second {
				t.Errorf("the second line came before the first:\n%s", all.String())
			}
			if err := os.WriteFile(e.path("go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		case strings.Contains(line, "second line"):
			second = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("deploy: %v (killed after a minute when the first line never came)\n%s", err, all.String())
	}
	if !first || !second {
		t.Fatalf("the step's lines did not reach the terminal (the step waits for the first to arrive before it prints the second):\n%s", all.String())
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
	t.Parallel()
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
	waitFor(t, 30*time.Second, "the step to start", func() bool {
		if b.ended() {
			t.Fatalf("deploy ended early: %s", b.wait(t, time.Second))
		}
		return e.read("started") != "" && len(processesWith(marker)) >= 2
	})
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	r := b.wait(t, 30*time.Second)
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
