package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// strandYAML is a stage of 20 production environments, five to a wave. Its deploy step
// appends "ENV VERSION DEPLOYMENT ATTEMPT" to runs; when the scratch file hold-ENV-VERSION
// exists, attempt 1 touches at-ENV-VERSION and waits until the file is removed (or the step
// is killed), so that a test can kill strata while a chosen deployment runs, or keep a pair
// held by a deployment of another version.
func strandYAML() string {
	var b strings.Builder
	b.WriteString("project: strand\nenvironments:\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "  e%02d: {labels: {tier: prod}}\n", i)
	}
	b.WriteString(`services:
  api:
    deploy: |
      S=@SCRATCH@
      echo "$STRATA_ENV $STRATA_VERSION $STRATA_DEPLOYMENT $STRATA_ATTEMPT" >> $S/runs
      if [ "$STRATA_ATTEMPT" = 1 ] && [ -e $S/hold-$STRATA_ENV-$STRATA_VERSION ]; then
        touch $S/at-$STRATA_ENV-$STRATA_VERSION
        while [ -e $S/hold-$STRATA_ENV-$STRATA_VERSION ]; do sleep 0.05; done
      fi
pipeline:
  - stage: prod
    environments: {tier: prod}
    waves: 5
`)
	return b.String()
}

// TestAPromotionKilledAnywhereIsCarriedOnByResume kills `strata promote` (kill -9, its steps
// left running) at points of a 20-environment promotion, before its first deployment
// included, then runs `strata resume`: every environment ends on the new version, with one
// succeeded deployment of the promotion each.
func TestAPromotionKilledAnywhereIsCarriedOnByResume(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		// postgres runs the case on a PostgreSQL store rather than the SQLite file.
		postgres bool
		// blocker, when set, is an environment held by a deploy of version 1 from before the
		// promotion until after the kill: the promotion waits to claim it.
		blocker string
		// killDuring, when set, is the environment whose deployment's step runs at the kill.
		killDuring string
		parallel   string
		// deployedBefore is how many environments the promotion had deployed at the kill.
		deployedBefore int
	}{
		{name: "killed after the promotion is recorded and before its first deployment", blocker: "e01", parallel: "1", deployedBefore: 0},
		{name: "killed during its first deployment", killDuring: "e01", parallel: "1", deployedBefore: 0},
		{name: "killed between two deployments", blocker: "e07", parallel: "1", deployedBefore: 6},
		{name: "killed during a deployment with others of its wave under way", killDuring: "e12", parallel: "3", deployedBefore: -1},
		{name: "killed during its last deployment", killDuring: "e20", parallel: "1", deployedBefore: 19},
		{name: "on PostgreSQL, killed before its first deployment", postgres: true, blocker: "e01", parallel: "1", deployedBefore: 0},
		{name: "on PostgreSQL, killed during a deployment with others of its wave under way", postgres: true, killDuring: "e12", parallel: "3", deployedBefore: -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEstate(t, strandYAML())
			if c.postgres {
				_, storeURL := pgSchema(t)
				e.env = append(e.env, "STRATA_STORE="+storeURL)
			}
			t.Cleanup(func() { // end every step still waiting, whatever the test did
				holds, _ := filepath.Glob(e.path("hold-*"))
				for _, h := range holds {
					os.Remove(h)
				}
			})
			e.release("api", "--version", "1")
			e.release("api", "--version", "2")

			var blocker *background
			if c.blocker != "" {
				hold(t, e, c.blocker+"-1")
				blocker = e.start("deploy", "api@1", "--env", c.blocker)
				waitFor(t, 10*time.Second, "the blocking deploy to run", func() bool { return exists(e, "at-"+c.blocker+"-1") })
			}
			if c.killDuring != "" {
				hold(t, e, c.killDuring+"-2")
			}
			dead := e.start("promote", "api@2", "--to", "prod", "--parallel", c.parallel)
			if c.blocker != "" {
				waitFor(t, 10*time.Second, "the promotion to wait for "+c.blocker, func() bool {
					b, _ := os.ReadFile(dead.stderr)
					return strings.Contains(string(b), "→ "+c.blocker+": waiting for")
				})
			} else {
				waitFor(t, 10*time.Second, "the deployment to "+c.killDuring+" to run", func() bool { return exists(e, "at-"+c.killDuring+"-2") })
			}
			if err := dead.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			dead.wait(t, 10*time.Second)
			if c.deployedBefore >= 0 {
				if got := len(succeededOf(e.history("api"), "2")); got != c.deployedBefore {
					t.Fatalf("at the kill the promotion had deployed %d environment(s), want %d: the kill point is not the one named", got, c.deployedBefore)
				}
			}

			again := e.must(3, "promote", "api@2", "--to", "prod", "-o", "json")
			var open struct{ ID, State string }
			jsonDoc(t, again, &open)
			if open.State != "running" || !strings.Contains(again.stderr, open.ID) || !strings.Contains(again.stderr, "strata resume") {
				t.Errorf("promoting again before resume: want the interrupted promotion, running, and a pointer to resume\n%s", again)
			}
			if status := e.must(0, "status"); !strings.Contains(status.stderr, "promotion "+open.ID+" ") || !strings.Contains(status.stderr, "carries it on") {
				t.Errorf("status should report the interrupted promotion %s on stderr:\n%s", open.ID, status)
			}

			if blocker != nil {
				os.Remove(e.path("hold-" + c.blocker + "-1"))
				if r := blocker.wait(t, 30*time.Second); r.code != 0 {
					t.Fatalf("the blocking deploy failed:\n%s", r)
				}
			}
			r := e.must(0, "resume", "-o", "json")
			var doc struct {
				Promotions []struct{ ID, Stage, State string }
			}
			jsonDoc(t, r, &doc)
			if len(doc.Promotions) != 1 || doc.Promotions[0].ID != open.ID || doc.Promotions[0].State != "succeeded" {
				t.Errorf("resume's promotions: got %+v, want %s succeeded\n%s", doc.Promotions, open.ID, r)
			}

			ds := e.history("api")
			for i := 1; i <= 20; i++ {
				env := fmt.Sprintf("e%02d", i)
				var mine []deployment
				for _, d := range find(ds, "api", env) {
					if d.Version == "2" {
						mine = append(mine, d)
					}
				}
				if len(mine) != 1 || mine[0].State != "succeeded" || mine[0].Promotion != open.ID {
					t.Errorf("%s: deployments of version 2: %+v; want one, succeeded, of %s", env, mine, open.ID)
				}
			}
			var st struct{ Cells []statusCell }
			jsonDoc(t, e.must(0, "status", "-o", "json"), &st)
			if len(st.Cells) != 20 {
				t.Errorf("status: %d cells, want 20", len(st.Cells))
			}
			for _, cell := range st.Cells {
				if cell.Version != "2" || cell.State != "succeeded" {
					t.Errorf("status: %s runs %s (%s), want 2 (succeeded)", cell.Environment, cell.Version, cell.State)
				}
			}
			// A step that ran twice ran as two attempts of one deployment, never as two.
			ids := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(e.read("runs")), "\n") {
				f := strings.Fields(line)
				if len(f) != 4 || f[1] != "2" {
					continue
				}
				if prev, ok := ids[f[0]]; ok && prev != f[2] {
					t.Errorf("%s: the step ran for two deployments of version 2, %s and %s", f[0], prev, f[2])
				}
				ids[f[0]] = f[2]
			}
			if r := e.must(0, "resume"); !strings.Contains(r.stdout, "nothing to resume") || strings.Contains(r.stderr, "interrupted") {
				t.Errorf("a second resume should find nothing, and report nothing interrupted:\n%s", r)
			}
		})
	}
}

// hold makes attempt 1 of the deploy step of "ENV-VERSION" wait (see strandYAML).
func hold(t *testing.T, e *estate, what string) {
	t.Helper()
	if err := os.WriteFile(e.path("hold-"+what), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// exists reports whether the scratch file name exists.
func exists(e *estate, name string) bool {
	_, err := os.Stat(e.path(name))
	return err == nil
}

// succeededOf returns the succeeded deployments of version in ds.
func succeededOf(ds []deployment, version string) []deployment {
	var out []deployment
	for _, d := range ds {
		if d.Version == version && d.State == "succeeded" {
			out = append(out, d)
		}
	}
	return out
}
