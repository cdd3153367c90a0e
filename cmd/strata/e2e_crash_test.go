package main_test

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

const crashEstate = `project: crash
environments:
  prod: {}
services:
  api:
    deploy: {run: sh ./deploy.sh, timeout: 2m}
`

// crashStep is the deploy step. It appends "DEPLOYMENT ATTEMPT PID" to attempts, and guards
// against a concurrent copy of itself with a lock file holding the holder's pid: when the
// lock exists and its holder is still running (not a zombie), that is two copies at once,
// recorded in violations; a dead holder's lock is the leftover of a killed attempt and is
// taken over. Attempt 1 then sleeps long enough to be killed; later attempts finish.
const crashStep = `S=@SCRATCH@
echo "$STRATA_DEPLOYMENT $STRATA_ATTEMPT $$" >> $S/attempts
if ! (set -C; echo $$ > $S/lock) 2>/dev/null; then
  other=$(cat $S/lock)
  state=$(sed 's/.*) //' /proc/$other/stat 2>/dev/null | cut -c1)
  if [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]; then
    echo "attempt $STRATA_ATTEMPT ($$) ran while $other still held the lock" >> $S/violations
    exit 1
  fi
  echo $$ > $S/lock
fi
echo "$STRATA_ATTEMPT" > $S/running
if [ "$STRATA_ATTEMPT" = 1 ]; then @SLEEP@ 60; else @SLEEP@ 1; fi
rm -f $S/lock
echo "$STRATA_ATTEMPT" > $S/done
`

func TestAKilledDeployIsResumedAsTheSameDeploymentWithoutTwoCopiesRunning(t *testing.T) {
	t.Parallel()
	e := newEstate(t, crashEstate)
	sleep, marker := e.markerSleep()
	killMarked(t, marker)
	e.write("deploy.sh", strings.NewReplacer("@SCRATCH@", e.scratch, "@SLEEP@", sleep).Replace(crashStep))
	e.release("api", "--version", "1")

	dead := e.start("deploy", "api@1", "--env", "prod")
	waitFor(t, 30*time.Second, "attempt 1 of the step to run", func() bool { return e.read("running") == "1\n" })
	waitFor(t, 30*time.Second, "strata to record the step's process group", e.stepGroupRecorded)
	if err := dead.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	dead.wait(t, 30*time.Second)
	id := strings.Fields(e.read("attempts"))[0]
	if len(processesWith(marker)) == 0 {
		t.Fatalf("attempt 1's step died with strata; the test needs it alive to prove resume stops it")
	}

	t.Run("any command that opens the store reports the interrupted deployment", func(t *testing.T) {
		e := e.with(t)
		r := e.must(0, "status", "-o", "json")
		var doc struct{ Cells []statusCell }
		jsonDoc(t, r, &doc)
		if len(doc.Cells) != 1 || doc.Cells[0].State != "interrupted" {
			t.Errorf("status cells: got %+v, want api in prod interrupted (its process is gone)", doc.Cells)
		}
		if ds := e.history(); len(ds) != 1 || ds[0].State != "interrupted" {
			t.Errorf("history: got %+v, want %s interrupted", ds, id)
		}
		if !strings.Contains(r.stderr, id) || !strings.Contains(r.stderr, "interrupted") || !strings.Contains(r.stderr, "resume") {
			t.Errorf("stderr should report %s as interrupted and point to resume:\n%s", id, r)
		}
		if len(processesWith(marker)) == 0 {
			t.Errorf("status stopped the dead run's step; only resume should")
		}
	})

	t.Run("a new deploy of the pair is blocked until it is resumed", func(t *testing.T) {
		e := e.with(t)
		r := e.must(3, "deploy", "api@1", "--env", "prod")
		if !strings.Contains(r.stderr, id) || !strings.Contains(r.stderr, "resume") {
			t.Errorf("the refusal should name %s and point to resume:\n%s", id, r)
		}
		if n := strings.Count(e.read("attempts"), "\n"); n != 1 {
			t.Errorf("the blocked deploy ran the step: %d runs", n)
		}
	})

	t.Run("resume stops the old step and runs the same deployment as attempt 2", func(t *testing.T) {
		e := e.with(t)
		r := e.must(0, "resume", "-o", "json")
		var doc struct{ Resumed []deployment }
		jsonDoc(t, r, &doc)
		if len(doc.Resumed) != 1 || doc.Resumed[0].ID != id || doc.Resumed[0].Attempt != 2 || doc.Resumed[0].State != "succeeded" {
			t.Errorf("resume: got %+v, want %s attempt 2 succeeded", doc.Resumed, id)
		}
		if left := processesWith(marker); len(left) != 0 {
			t.Errorf("processes of the steps are still running after resume: %v", left)
		}
		if v := e.read("violations"); v != "" {
			t.Errorf("two copies of the step ran at once:\n%s", v)
		}
		runs := strings.Split(strings.TrimSpace(e.read("attempts")), "\n")
		if len(runs) != 2 || !strings.HasPrefix(runs[0], id+" 1 ") || !strings.HasPrefix(runs[1], id+" 2 ") {
			t.Errorf("the step's runs: got %q, want %s attempt 1 then attempt 2", runs, id)
		}
		if e.read("done") != "2\n" {
			t.Errorf("attempt 2 did not finish (done = %q)", e.read("done"))
		}
	})

	t.Run("afterwards the deployment is succeeded and nothing is reported", func(t *testing.T) {
		e := e.with(t)
		ds := e.history("api")
		if len(ds) != 1 || ds[0].ID != id || ds[0].Attempt != 2 || ds[0].State != "succeeded" {
			t.Errorf("history: got %+v, want only %s, attempt 2, succeeded", ds, id)
		}
		r := e.must(0, "status")
		if strings.Contains(r.stderr, "interrupted") {
			t.Errorf("status still reports an interruption:\n%s", r)
		}
		if r := e.must(0, "resume"); !strings.Contains(r.stdout, "nothing to resume") {
			t.Errorf("a second resume should find nothing:\n%s", r)
		}
	})
}

const crashReleaseEstate = `project: crash
environments:
  dev: {}
  staging: {}
  prod: {}
services:
  api:
    deploy: |
      echo "$STRATA_ENV $STRATA_ATTEMPT" >> @SCRATCH@/runs
      if [ ! -e @SCRATCH@/slept ]; then touch @SCRATCH@/slept; @SLEEP@ 60; fi
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: staging
    environments: [staging]
    auto: true
  - stage: prod
    environments: [prod]
`

func TestAReleaseKilledInItsFirstAutoStageLandsInTheNextOnceResumed(t *testing.T) {
	t.Parallel()
	e := newEstate(t, crashReleaseEstate)
	sleep, marker := e.markerSleep()
	killMarked(t, marker)
	e.write("strata.yaml", strings.NewReplacer("@SCRATCH@", e.scratch, "@SLEEP@", sleep).Replace(crashReleaseEstate))

	dead := e.start("release", "api", "--version", "1")
	waitFor(t, 30*time.Second, "the dev deploy to run", func() bool { return e.read("runs") == "dev 1\n" })
	waitFor(t, 30*time.Second, "strata to record the step's process group", e.stepGroupRecorded)
	dead.cmd.Process.Kill()
	dead.wait(t, 30*time.Second)

	r := e.must(0, "resume", "-o", "json")
	var doc struct {
		Resumed    []deployment
		Promotions []struct{ ID, Stage, State string }
	}
	jsonDoc(t, r, &doc)
	if got := e.read("runs"); got != "dev 1\ndev 2\nstaging 1\n" {
		t.Errorf("step runs: got %q, want dev attempt 1 (killed), dev attempt 2, then staging", got)
	}
	var stages []string
	for _, p := range doc.Promotions {
		stages = append(stages, p.Stage+":"+p.State)
	}
	if strings.Join(stages, " ") != "dev:succeeded staging:succeeded" {
		t.Errorf("resume's promotions: got %v, want the dev promotion finished and staging run\n%s", stages, r)
	}
	p := e.must(0, "promote", "api@1", "--to", "dev", "-o", "json")
	var again struct{ ID, State string }
	jsonDoc(t, p, &again)
	if len(doc.Resumed) != 1 || doc.Resumed[0].Promotion == "" {
		t.Fatalf("resume: want the dev deployment of the release's promotion, got %+v", doc.Resumed)
	}
	if old := doc.Resumed[0].Promotion; again.ID == old {
		t.Errorf("promoting api@1 to dev again returned the old promotion %s: it is still open\n%s", old, p)
	}
}

func TestResumeAlsoStopsWhatADeadStepStartedInANewSession(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	e := newEstate(t, crashEstate)
	sleep, marker := e.markerSleep()
	killMarked(t, marker)
	e.write("deploy.sh", strings.NewReplacer("@SCRATCH@", e.scratch, "@SLEEP@", sleep).Replace(`
if [ "$STRATA_ATTEMPT" = 1 ]; then
  setsid @SLEEP@ 61 &
  echo $! > @SCRATCH@/escapee
  @SLEEP@ 60
fi
echo "$STRATA_ATTEMPT" > @SCRATCH@/done
`))
	e.release("api", "--version", "1")
	dead := e.start("deploy", "api@1", "--env", "prod")
	waitFor(t, 30*time.Second, "the step and its escapee to run", func() bool {
		pid := strings.TrimSpace(e.read("escapee"))
		return pid != "" && procField(pid, 5) == pid
	})
	waitFor(t, 30*time.Second, "strata to record the step's process group", e.stepGroupRecorded)
	dead.cmd.Process.Kill()
	dead.wait(t, 30*time.Second)
	pid := strings.TrimSpace(e.read("escapee"))
	if procField(pid, 5) != pid {
		t.Fatalf("the escapee %s should run in a process group of its own", pid)
	}

	e.must(0, "resume")
	if left := processesWith(marker); len(left) != 0 {
		t.Errorf("processes of the dead run are left after resume: %v (the escapee was %s)", left, pid)
	}
	if e.read("done") != "2\n" {
		t.Errorf("attempt 2 did not run to the end (done = %q)", e.read("done"))
	}
}

// procField returns field n (1-based, as proc(5) counts) of /proc/PID/stat, or "".
func procField(pid string, n int) string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if n-3 < 0 || n-3 >= len(f) {
		return ""
	}
	return f[n-3]
}

func TestTwoResumesAtOnceRunTheInterruptedDeploymentOnce(t *testing.T) {
	t.Parallel()
	e := newEstate(t, crashEstate)
	sleep, marker := e.markerSleep()
	killMarked(t, marker)
	e.write("deploy.sh", strings.NewReplacer("@SCRATCH@", e.scratch, "@SLEEP@", sleep).Replace(crashStep))
	e.release("api", "--version", "1")

	dead := e.start("deploy", "api@1", "--env", "prod")
	waitFor(t, 30*time.Second, "attempt 1 of the step to run", func() bool { return e.read("running") == "1\n" })
	waitFor(t, 30*time.Second, "strata to record the step's process group", e.stepGroupRecorded)
	dead.cmd.Process.Kill()
	dead.wait(t, 30*time.Second)

	a := e.start("resume")
	b := e.start("resume")
	ra, rb := a.wait(t, 30*time.Second), b.wait(t, 30*time.Second)
	if ra.code != 0 || rb.code != 0 {
		t.Errorf("both resumes should succeed (one runs it, the other finds it taken):\n%s\n%s", ra, rb)
	}
	runs := strings.Split(strings.TrimSpace(e.read("attempts")), "\n")
	if len(runs) != 2 {
		t.Errorf("the step ran %d times, want twice (attempt 1, killed; attempt 2 by one resume): %q", len(runs), runs)
	}
	if v := e.read("violations"); v != "" {
		t.Errorf("two copies of the step ran at once:\n%s", v)
	}
	if ds := e.history(); len(ds) != 1 || ds[0].Attempt != 2 || ds[0].State != "succeeded" {
		t.Errorf("history: got %+v, want one deployment, attempt 2, succeeded", ds)
	}
}

// stepGroupRecorded reports whether the store holds the process group of a running
// deployment's step, which strata records once the step has run a moment (engine's
// recordGroupAfter): what resume stops after a crash. It reads the SQLite file as any
// reader may while strata writes it.
func (e *estate) stepGroupRecorded() bool {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, ".strata", "state.db")+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM deployments WHERE state = 'running' AND pgid > 0`).Scan(&n); err != nil {
		e.t.Fatalf("read the store: %v", err)
	}
	return n > 0
}
