package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/internal/syncbuf"
)

// strandEstate has one stage of three environments, one at a time. Deploy steps append the
// version to the scratch file "api-ENV".
const strandEstate = `project: strand
environments:
  a: {}
  b: {}
  c: {}
services:
  api:
    deploy: echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"
pipeline:
  - stage: prod
    environments: [a, b, c]
    waves: 1
`

func TestResumeCarriesOnARunningPromotionWhoseOwnerIsGone(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	elsewhere := strata.Owner{Host: "elsewhere.example", PID: 4242, Start: 1}
	for _, c := range []struct {
		name string
		// owner returns the promotion's owner and lease, given the resuming engine.
		owner func(e *engine.Engine) (strata.Owner, time.Time)
		// deployed are the environments the promotion had deployed before its owner went.
		deployed []string
		// later moves the clock between a first resume and a second.
		later    time.Duration
		first    string // the promotion's state after the first resume
		want     string // after the second
		wantRuns string // which environments' steps ran, in order
	}{
		{
			name:  "an owner on this host whose process died is gone at once, whatever its lease",
			owner: func(e *engine.Engine) (strata.Owner, time.Time) { return deadHere(e), t0.Add(time.Hour) },
			first: strata.Succeeded, want: strata.Succeeded, wantRuns: "a b c",
		},
		{
			name:  "an owner elsewhere whose lease lapsed is gone",
			owner: func(*engine.Engine) (strata.Owner, time.Time) { return elsewhere, t0.Add(-time.Second) },
			first: strata.Succeeded, want: strata.Succeeded, wantRuns: "a b c",
		},
		{
			name:  "an owner elsewhere is not taken over until its lease lapses",
			owner: func(*engine.Engine) (strata.Owner, time.Time) { return elsewhere, t0.Add(time.Minute) },
			later: 2 * time.Minute, first: strata.Running, want: strata.Succeeded, wantRuns: "a b c",
		},
		{
			name:  "a promotion from before promotions had owners is gone",
			owner: func(*engine.Engine) (strata.Owner, time.Time) { return strata.Owner{}, time.Time{} },
			first: strata.Succeeded, want: strata.Succeeded, wantRuns: "a b c",
		},
		{
			name:     "the environments it deployed already are not deployed again",
			owner:    func(e *engine.Engine) (strata.Owner, time.Time) { return deadHere(e), t0 },
			deployed: []string{"a", "b"},
			first:    strata.Succeeded, want: strata.Succeeded, wantRuns: "c",
		},
		{
			name:     "one that had deployed everywhere is only recorded as succeeded",
			owner:    func(e *engine.Engine) (strata.Owner, time.Time) { return deadHere(e), t0 },
			deployed: []string{"a", "b", "c"},
			first:    strata.Succeeded, want: strata.Succeeded, wantRuns: "",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, strandEstate)
			clk := &clock{t: t0}
			e := w.promoter(clk, "scheduler")
			if _, err := e.Release(t.Context(), "api", "1"); err != nil {
				t.Fatal(err)
			}
			owner, until := c.owner(e)
			p := &strata.Promotion{Service: "api", Version: "1", Stage: "prod", State: strata.Running, Requester: "alice",
				Owner: owner, LeaseUntil: until}
			if err := w.store.CreatePromotion(t.Context(), p, nil); err != nil {
				t.Fatal(err)
			}
			for _, env := range c.deployed {
				d := &strata.Deployment{Service: "api", Environment: env, Version: "1", State: strata.Running, Attempt: 1,
					Kind: engine.KindPromotion, PromotionID: p.ID, Owner: owner, LeaseUntil: until}
				if err := w.store.CreateDeployment(t.Context(), d, nil); err != nil {
					t.Fatal(err)
				}
				d.State = strata.Succeeded
				if err := w.store.UpdateDeployment(t.Context(), d, nil); err != nil {
					t.Fatal(err)
				}
			}

			if _, err := e.Resume(t.Context()); err != nil {
				t.Fatalf("first resume: %v", err)
			}
			if got := state(t, w, p.ID); got != c.first {
				t.Errorf("after the first resume: %s, want %s", got, c.first)
			}
			clk.move(c.later)
			if _, err := w.promoter(clk, "scheduler").Resume(t.Context()); err != nil {
				t.Fatalf("second resume: %v", err)
			}
			got, err := w.store.Promotion(t.Context(), p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != c.want || got.Owner != (strata.Owner{}) {
				t.Errorf("after the second resume: %s owned by %+v, want %s owned by no one", got.State, got.Owner, c.want)
			}
			var runs []string
			for _, env := range []string{"a", "b", "c"} {
				switch n := strings.Count(w.read("api-"+env), "\n"); n {
				case 0:
				case 1:
					runs = append(runs, env)
				default:
					t.Errorf("%s was deployed %d times", env, n)
				}
			}
			if got := strings.Join(runs, " "); got != c.wantRuns {
				t.Errorf("steps ran in %q, want %q", got, c.wantRuns)
			}
			ds, err := w.store.Deployments(t.Context(), strata.DeploymentFilter{PromotionID: p.ID, States: []string{strata.Succeeded}})
			if err != nil || len(ds) != 3 {
				t.Errorf("succeeded deployments of %s: %d (%v), want one in each of a, b, c", p.ID, len(ds), err)
			}
		})
	}
}

func TestPromotingARunningPromotionAgainIsBlocked(t *testing.T) {
	for _, c := range []struct {
		name string
		dead bool
		want string // in the error
	}{
		{"while its owner runs it, it runs once", false, "running already"},
		{"when its owner is gone, resume carries it on", true, "strata resume"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, strandEstate)
			e := w.engine()
			if _, err := e.Release(t.Context(), "api", "1"); err != nil {
				t.Fatal(err)
			}
			owner := e.Owner // this process: alive
			if c.dead {
				owner = deadHere(e)
			}
			p := &strata.Promotion{Service: "api", Version: "1", Stage: "prod", State: strata.Running, Requester: "alice",
				Owner: owner, LeaseUntil: time.Now().Add(time.Hour)}
			if err := w.store.CreatePromotion(t.Context(), p, nil); err != nil {
				t.Fatal(err)
			}
			res, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api", Version: "1", To: "prod"})
			if strata.ErrorCode(err) != strata.EBLOCKED || !strings.Contains(err.Error(), p.ID) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("promote again: %v; want blocked, naming %s and saying %q", err, p.ID, c.want)
			}
			if res == nil || res.Promotion.ID != p.ID || res.Promotion.State != strata.Running {
				t.Errorf("promote again returned %+v, want %s as it is (running)", res, p.ID)
			}
			if got := w.read("api-a"); got != "" {
				t.Errorf("promoting again deployed: api-a = %q", got)
			}
		})
	}
}

// deadHere is an owner on e's host whose process does not exist.
func deadHere(e *engine.Engine) strata.Owner {
	return strata.Owner{Host: e.Owner.Host, PID: 1 << 22, Start: 1}
}

// state returns promotion id's state.
func state(t *testing.T, w *world, id string) string {
	t.Helper()
	p, err := w.store.Promotion(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.State
}

// fenceEstate deploys a, b, c one at a time; a step waits while the scratch file hold-ENV
// exists, after touching at-ENV.
const fenceEstate = `project: fence
environments:
  a: {}
  b: {}
  c: {}
services:
  api:
    deploy: |
      touch "@SCRATCH@/at-$STRATA_ENV"
      while [ -e "@SCRATCH@/hold-$STRATA_ENV" ]; do sleep 0.02; done
      echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"
pipeline:
  - stage: prod
    environments: [a, b, c]
    waves: 1
`

func TestARunnerThatLosesItsPromotionStartsNoFurtherDeploymentAndLeavesItsOutcome(t *testing.T) {
	w := newWorld(t, fenceEstate)
	e := w.engine()
	e.LeaseTTL = 300 * time.Millisecond
	var log syncbuf.Buffer
	e.Log = &log
	if _, err := e.Release(t.Context(), "api", "1"); err != nil {
		t.Fatal(err)
	}
	w.write("hold-a", "")
	done := make(chan error, 1)
	go func() {
		_, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api", Version: "1", To: "prod"})
		done <- err
	}()
	poll(t, "a's step to run", func() bool { return exists(w, "at-a") })
	ps, err := w.store.Promotions(t.Context(), strata.PromotionFilter{States: []string{strata.Running}})
	if err != nil || len(ps) != 1 {
		t.Fatalf("running promotions: %v, %v", ps, err)
	}
	p := ps[0]
	if p.Owner != e.Owner {
		t.Fatalf("the running promotion is owned by %+v, want the engine that runs it, %+v", p.Owner, e.Owner)
	}
	other := strata.Owner{Host: "elsewhere.example", PID: 7, Start: 7}
	if err := w.store.TakeOverPromotion(t.Context(), p.ID, e.Owner, other, time.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	poll(t, "the runner to notice it lost the promotion", func() bool { return strings.Contains(log.String(), "lost promotion "+p.ID) })
	if err := os.Remove(filepath.Join(w.scratch, "hold-a")); err != nil {
		t.Fatal(err)
	}
	err = <-done
	if strata.ErrorCode(err) != strata.EFAILED || !strings.Contains(err.Error(), "lease") {
		t.Fatalf("promote: %v; want it failed, saying it lost the lease", err)
	}
	got, err := w.store.Promotion(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != strata.Running || got.Owner != other {
		t.Errorf("the promotion is %s owned by %+v; want it left running to its new owner %+v", got.State, got.Owner, other)
	}
	for _, c := range []struct{ env, want string }{{"a", "1\n"}, {"b", ""}, {"c", ""}} {
		if got := w.read("api-" + c.env); got != c.want {
			t.Errorf("api-%s = %q, want %q: the deployment under way ends, no other starts", c.env, got, c.want)
		}
	}
	ds, err := w.store.Deployments(t.Context(), strata.DeploymentFilter{PromotionID: p.ID})
	if err != nil || len(ds) != 1 || ds[0].Environment != "a" || ds[0].State != strata.Succeeded {
		t.Errorf("deployments of the promotion: %d (%v); want only a's, succeeded", len(ds), err)
	}
}

// poll waits until cond holds, failing t after 10 seconds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// exists reports whether the scratch file name exists.
func exists(w *world, name string) bool {
	_, err := os.Stat(filepath.Join(w.scratch, name))
	return err == nil
}
