package engine_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// wavesEstate has dev, then four prod environments in a stage whose waves a test chooses.
// The deploy step appends the version to "api-ENV" and the environment to "order"; health
// fails where the scratch file "sick-VERSION-ENV" exists. A healthy check may need its 5s on
// a busy machine, with a wave's checks running at once (1s was missed).
const wavesEstate = `project: waves
environments:
  dev: {}
  p1: {labels: {tier: prod}}
  p2: {labels: {tier: prod}}
  p3: {labels: {tier: prod}}
  p4: {labels: {tier: prod}}
services:
  api:
    deploy: |
      echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"
      echo "$STRATA_ENV" >> "@SCRATCH@/order"
    health: {command: 'test ! -e "@SCRATCH@/sick-$STRATA_VERSION-$STRATA_ENV"', timeout: 5s, interval: 100ms}
    rollback: previous
pipeline:
  - stage: dev
    environments: [dev]
  - stage: prod
    environments: {tier: prod}
    waves: @WAVES@
`

// toProd releases api@version, promotes it to dev, then to prod.
func toProd(w *world, e *engine.Engine, version string) (*engine.PromotionResult, error) {
	w.t.Helper()
	if _, err := e.Release(w.t.Context(), "api", version); err != nil {
		w.t.Fatal(err)
	}
	if _, err := e.Promote(w.t.Context(), engine.PromoteRequest{Service: "api", Version: version}); err != nil {
		w.t.Fatalf("promote to dev: %v", err)
	}
	return e.Promote(w.t.Context(), engine.PromoteRequest{Service: "api", Version: version})
}

func TestWaves(t *testing.T) {
	cases := []struct {
		name, waves string
		want        [][]string // groups in order; order within a group is free
	}{
		{"waves: 1 deploys one environment at a time in declaration order", "1",
			[][]string{{"p1"}, {"p2"}, {"p3"}, {"p4"}}},
		{"waves: 3 deploys three, then the rest", "3",
			[][]string{{"p1", "p2", "p3"}, {"p4"}}},
		{"explicit lists deploy in the order they are written", "[[p3], [p1, p2], [p4]]",
			[][]string{{"p3"}, {"p1", "p2"}, {"p4"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, strings.ReplaceAll(wavesEstate, "@WAVES@", c.waves))
			w.write("order", "")
			res, err := toProd(w, w.engine(), "1")
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Promotion.State; got != strata.Succeeded {
				t.Fatalf("promotion %s, want succeeded", got)
			}
			order := strings.Fields(w.read("order"))[1:] // dev first
			if len(order) != 4 {
				t.Fatalf("deployed %v, want each prod environment once", order)
			}
			for _, group := range c.want {
				got := slices.Clone(order[:len(group)])
				order = order[len(group):]
				slices.Sort(got)
				if !slices.Equal(got, group) {
					t.Errorf("a wave deployed %v, want %v (waves %v)", got, group, res.Waves)
				}
			}
		})
	}
}

func TestAFailedHealthCheckRollsBackAndHaltsTheRemainingWaves(t *testing.T) {
	w := newWorld(t, strings.ReplaceAll(wavesEstate, "@WAVES@", "[[p1], [p2], [p3, p4]]"))
	e := w.engine()
	if _, err := toProd(w, e, "1"); err != nil {
		t.Fatal(err)
	}
	w.write("sick-2-p2", "")
	res, err := toProd(w, e, "2")
	if strata.ErrorCode(err) != strata.EFAILED {
		t.Fatalf("promote 2: err = %v, want failed", err)
	}
	if res.Promotion.State != strata.Failed || !strings.Contains(res.Promotion.Error, "p2") {
		t.Errorf("promotion = %+v, want failed naming p2", res.Promotion)
	}
	for env, want := range map[string]string{
		"p1": "1 2",   // wave 1 succeeded
		"p2": "1 2 1", // failed health, rolled back to 1
		"p3": "1",     // never reached: its deploy step did not run
		"p4": "1",
	} {
		if got := strings.Join(strings.Fields(w.read("api-"+env)), " "); got != want {
			t.Errorf("versions deployed in %s: %q, want %q", env, got, want)
		}
	}
	states := map[string]string{}
	for _, d := range res.Deployments {
		states[d.Environment] = d.State
	}
	if states["p1"] != strata.Succeeded || states["p2"] != strata.RolledBack || states["p3"] != "" || states["p4"] != "" {
		t.Errorf("deployments by environment: %v, want p1 succeeded, p2 rolled back, none in p3 or p4", states)
	}
	cur, err := e.Current(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"p2", "p3", "p4"} {
		if d := cur[plan.Pair{Service: "api", Environment: env}]; d == nil || d.Version != "1" {
			t.Errorf("%s runs %+v, want 1", env, d)
		}
	}
}

// chainEstate's stages are auto as a test says.
const chainEstate = `project: chain
environments:
  dev: {}
  staging: {}
  prod: {}
services:
  api:
    deploy: echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"
pipeline:
  - {stage: dev, environments: [dev], auto: @DEV@}
  - {stage: staging, environments: [staging], auto: @STAGING@}
  - {stage: prod, environments: [prod], auto: @PROD@}
`

func TestAutoStagesChain(t *testing.T) {
	cases := []struct {
		name, dev, staging, prod string
		landed                   []string // where the release lands by itself
		promoted                 []string // where it is after one promote to staging
	}{
		{"a release lands in dev then staging when both are auto, and stops before prod",
			"true", "true", "false", []string{"dev", "staging"}, nil},
		{"it never passes a stage that is not auto, but a promotion into it chains on",
			"true", "false", "true", []string{"dev"}, []string{"dev", "staging", "prod"}},
		{"nothing lands by itself when the first stage is not auto",
			"false", "true", "true", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := strings.NewReplacer("@DEV@", c.dev, "@STAGING@", c.staging, "@PROD@", c.prod).Replace(chainEstate)
			w := newWorld(t, y)
			e := w.engine()
			if _, err := e.Release(t.Context(), "api", "1"); err != nil {
				t.Fatal(err)
			}
			where := func() []string {
				var out []string
				for _, env := range []string{"dev", "staging", "prod"} {
					if w.read("api-"+env) == "1\n" {
						out = append(out, env)
					}
				}
				return out
			}
			if got := where(); !slices.Equal(got, c.landed) {
				t.Errorf("the release landed in %v, want %v", got, c.landed)
			}
			if c.promoted == nil {
				return
			}
			res, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api", Version: "1", To: "staging"})
			if err != nil {
				t.Fatal(err)
			}
			if got := where(); !slices.Equal(got, c.promoted) {
				t.Errorf("after promote --to staging it runs in %v, want %v", got, c.promoted)
			}
			if n := len(res.Chain()); n != 2 || res.Last().Promotion.Stage != "prod" {
				t.Errorf("chain of %d promotions ending in %s, want staging then prod", n, res.Last().Promotion.Stage)
			}
		})
	}
}

func TestPromoteToANamedStage(t *testing.T) {
	w := newWorld(t, strings.NewReplacer("@DEV@", "true", "@STAGING@", "false", "@PROD@", "false").Replace(chainEstate))
	e := w.engine()
	if _, err := e.Release(t.Context(), "api", "1"); err != nil {
		t.Fatal(err)
	}

	t.Run("a later stage waits while an earlier one does not hold the release", func(t *testing.T) {
		res, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api", Version: "1", To: "prod"})
		if strata.ErrorCode(err) != strata.EBLOCKED {
			t.Fatalf("promote --to prod: %v, want blocked", err)
		}
		g := gate(res.Gates, "previous-stage")
		if g.OK || !strings.Contains(g.Detail, "staging/staging") {
			t.Errorf("previous-stage gate = %+v, want closed naming staging", g)
		}
		if w.read("api-prod") != "" {
			t.Error("prod was deployed")
		}
		if _, err := e.Reject(t.Context(), res.Promotion.ID, "skipped a stage"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("without --to it goes to the next stage it has not reached", func(t *testing.T) {
		res, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api"})
		if err != nil || res.Promotion.Stage != "staging" {
			t.Fatalf("promote: %+v, %v; want staging", res, err)
		}
	})

	t.Run("once every earlier stage holds it, a named later stage runs", func(t *testing.T) {
		res, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api", Version: "1", To: "prod"})
		if err != nil || res.Promotion.State != strata.Succeeded || w.read("api-prod") != "1\n" {
			t.Fatalf("promote --to prod: %+v, %v", res, err)
		}
	})

	t.Run("a release healthy everywhere has no next stage", func(t *testing.T) {
		if _, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api"}); strata.ErrorCode(err) != strata.EINVALID {
			t.Errorf("promote: %v, want invalid", err)
		}
	})
}
