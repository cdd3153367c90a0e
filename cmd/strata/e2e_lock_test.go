package main_test

import (
	"os"
	"strings"
	"testing"
	"time"
)

// lockEstate's deploy in prod runs until the test writes the scratch file "go"; in dev it
// ends at once. Each run appends "ID start" and "ID end" to the scratch file "runs-ENV".
const lockEstate = `project: locks
environments:
  dev: {}
  prod: {}
services:
  slow:
    deploy: |
      echo "$STRATA_DEPLOYMENT start" >> @SCRATCH@/runs-$STRATA_ENV
      if [ "$STRATA_ENV" = prod ]; then while [ ! -e @SCRATCH@/go ]; do sleep 0.05; done; fi
      echo "$STRATA_DEPLOYMENT end" >> @SCRATCH@/runs-$STRATA_ENV
`

func TestOneDeploymentAtATimePerServiceAndEnvironment(t *testing.T) {
	t.Parallel()
	e := newEstate(t, lockEstate)
	e.release("slow", "--version", "1")

	first := e.start("deploy", "slow@1", "--env", "prod", "-o", "json")
	t.Cleanup(func() { os.WriteFile(e.path("go"), nil, 0o644) }) // end the step's loop whatever happens
	waitFor(t, 30*time.Second, "the first deploy's step to start", func() bool {
		return strings.Contains(e.read("runs-prod"), "start")
	})
	holder := strings.Fields(e.read("runs-prod"))[0]

	t.Run("a second deploy with --no-wait is blocked and names the holder", func(t *testing.T) {
		e := e.with(t)
		r := e.must(3, "deploy", "slow@1", "--env", "prod", "--no-wait")
		if !strings.Contains(r.stderr, holder) {
			t.Errorf("stderr should name the holder %s:\n%s", holder, r)
		}
		if first.ended() {
			t.Fatalf("the first deploy ended while its step waits for the test:\n%s", first.wait(t, time.Second))
		}
	})

	t.Run("another environment is not blocked", func(t *testing.T) {
		e := e.with(t)
		d := e.deploy(0, "slow@1", "--env", "dev")
		if d.State != "succeeded" {
			t.Errorf("dev: got %s, want succeeded", d.State)
		}
		if first.ended() {
			t.Errorf("prod's deploy ended before dev's: this proves nothing about blocking")
		}
	})

	t.Run("a second deploy without --no-wait waits and then succeeds", func(t *testing.T) {
		e := e.with(t)
		second := e.start("deploy", "slow@1", "--env", "prod")
		waitFor(t, 30*time.Second, "the second deploy to say it waits for "+holder, func() bool {
			b, _ := os.ReadFile(second.stderr)
			return strings.Contains(string(b), "waiting for "+holder) || second.ended()
		})
		if second.ended() {
			t.Fatalf("the second deploy ended while the first held the pair:\n%s", second.wait(t, time.Second))
		}
		if err := os.WriteFile(e.path("go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if r := second.wait(t, 60*time.Second); r.code != 0 {
			t.Fatalf("the waiting deploy: %s", r)
		}
		d := e.history("slow", "--env", "prod")[0]
		if d.State != "succeeded" || d.ID == holder {
			t.Errorf("the waiting deploy: got %+v, want a new deployment, succeeded", d)
		}
		runs := strings.Split(strings.TrimSpace(e.read("runs-prod")), "\n")
		want := []string{holder + " start", holder + " end", d.ID + " start", d.ID + " end"}
		if strings.Join(runs, "|") != strings.Join(want, "|") {
			t.Errorf("prod's step runs overlapped or were lost:\ngot  %q\nwant %q", runs, want)
		}
	})

	os.WriteFile(e.path("go"), nil, 0o644)
	if r := first.wait(t, 60*time.Second); r.code != 0 {
		t.Errorf("the first deploy: %s", r)
	}
	if ds := e.history("slow", "--env", "prod"); len(ds) != 2 {
		t.Errorf("prod history: want the two deployments that ran, got %+v", ds)
	}
}
