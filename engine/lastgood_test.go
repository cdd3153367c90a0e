package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// rollbackEstate has one service that rolls back to the previous good release; its deploy
// step fails for a version whose scratch file "sick-VERSION" exists. These tests are about
// which release is the last good one, not about health checks: a failing deploy step starts
// the rollback policy as a failing health check does, without a health timeout that a busy
// machine can miss (a 300ms one did: a healthy release was rolled back). Health failures
// have their tests in waves_test.go and cmd/strata/e2e_health_test.go.
const rollbackEstate = `project: rollback
environments:
  staging: {}
services:
  api:
    deploy: 'test ! -e "@SCRATCH@/sick-$STRATA_VERSION"'
    rollback: previous
`

func TestARollbackInAShortLivedEnvironmentMadeAgainIgnoresTheEarlierOne(t *testing.T) {
	w := newWorld(t, rollbackEstate)
	c := &clock{t: monday(9, 0)}
	ctx := t.Context()
	must(t, w.promoter(c, "alice").CreateEnvironment(ctx, &strata.EphemeralEnv{Name: "pr-1", Like: "staging"}))
	e := w.promoter(c, "alice")
	for _, v := range []string{"1", "2"} {
		c.move(time.Minute)
		w.ship(e, "api", v, "pr-1")
	}
	c.move(time.Minute)
	if _, err := e.DestroyEnvironment(ctx, "pr-1"); err != nil {
		t.Fatal(err)
	}
	c.move(time.Minute)
	must(t, e.CreateEnvironment(ctx, &strata.EphemeralEnv{Name: "pr-1", Like: "staging"}))
	e = w.promoter(c, "alice") // as the next command sees it
	for _, v := range []string{"3", "4", "5"} {
		_, err := e.Release(ctx, "api", v)
		must(t, err)
	}
	runs := func() string {
		t.Helper()
		cur, err := e.Current(ctx)
		must(t, err)
		if d := cur[plan.Pair{Service: "api", Environment: "pr-1"}]; d != nil {
			return d.Version
		}
		return ""
	}

	t.Run("a failing first release there has no earlier good release to roll back to", func(t *testing.T) {
		w.write("sick-3", "")
		c.move(time.Minute)
		d, err := e.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "3", Env: "pr-1"})
		if strata.ErrorCode(err) != strata.EFAILED || !strings.Contains(err.Error(), "no earlier good release there") {
			t.Fatalf("deploy api@3 = %v, want EFAILED: no earlier good release there", err)
		}
		if d.State != strata.Failed {
			t.Errorf("api@3 is %s, want failed (not rolled back)", d.State)
		}
		if got := runs(); got != "" {
			t.Errorf("api runs %q in the new pr-1, want nothing (2 ran in the earlier one)", got)
		}
	})

	t.Run("rollback without --to finds no earlier good release there", func(t *testing.T) {
		c.move(time.Minute)
		w.ship(e, "api", "4", "pr-1")
		_, err := e.Rollback(ctx, "api", "pr-1", "", "")
		if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), "no earlier good release") {
			t.Errorf("rollback = %v, want EINVALID: no earlier good release", err)
		}
		if got := runs(); got != "4" {
			t.Errorf("api runs %q, want 4", got)
		}
	})

	t.Run("a failing release rolls back to what ran there since it was made", func(t *testing.T) {
		w.write("sick-5", "")
		c.move(time.Minute)
		_, err := e.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "5", Env: "pr-1"})
		if strata.ErrorCode(err) != strata.EFAILED || !strings.Contains(err.Error(), "rolled back to 4") {
			t.Fatalf("deploy api@5 = %v, want EFAILED: rolled back to 4", err)
		}
		if got := runs(); got != "4" {
			t.Errorf("api runs %q, want 4", got)
		}
	})
}

func TestTheLastGoodReleaseIsFoundWithoutReadingThePairsWholeHistory(t *testing.T) {
	w := newWorld(t, rollbackEstate)
	ctx := t.Context()
	e := w.engine()
	for _, v := range []string{"0", "1", "2"} {
		_, err := e.Release(ctx, "api", v)
		must(t, err)
	}
	// 400 deployments of 0, then 1, then 20 of 2, one a minute; 2 was unhealthy once.
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	n := 0
	record := func(version, health string) {
		at := t0.Add(time.Duration(n) * time.Minute)
		n++
		must(t, w.store.CreateDeployment(ctx, &strata.Deployment{Service: "api", Environment: "staging", Version: version,
			Kind: "deploy", Actor: "tester", State: strata.Succeeded, Health: health, CreatedAt: at, StartedAt: at, FinishedAt: at}, nil))
	}
	for range 400 {
		record("0", strata.Healthy)
	}
	record("1", strata.Healthy)
	for i := range 20 {
		health := strata.Healthy
		if i == 10 {
			health = strata.Unhealthy
		}
		record("2", health)
	}
	reads := &readsStore{Store: w.store}
	e.Store = reads

	d, err := e.Rollback(ctx, "api", "staging", "", "")
	must(t, err)
	if d.Version != "1" {
		t.Errorf("rolled back to %s, want 1, the newest good release before 2", d.Version)
	}
	rows := 0
	for _, ds := range reads.take() {
		rows += len(ds)
	}
	if rows >= n/2 {
		t.Errorf("the rollback read %d deployments of a history of %d; want it to stop once it found 1", rows, n)
	}
}
