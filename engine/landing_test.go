package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// landingEstate's stages are auto as @DEV@ and @STAGING@ say: a test writes the pipeline
// without an auto stage, makes a landing due, then writes it with one, which leaves the
// store as a process that died between the two commits would have.
const landingEstate = `project: landing
environments:
  dev: {}
  staging: {}
services:
  app:
    deploy: "true"
pipeline:
  - stage: dev
    environments: [dev]
    auto: @DEV@
  - stage: staging
    environments: [staging]
    auto: @STAGING@
`

func landingYAML(dev, staging bool) string {
	r := strings.NewReplacer("@DEV@", map[bool]string{true: "true", false: "false"}[dev], "@STAGING@", map[bool]string{true: "true", false: "false"}[staging])
	return r.Replace(landingEstate)
}

// TestALandingACrashLostIsMadeByTheNextResume: the promotion into an auto stage that a
// release or a success made due is made by resume when the process that owed it is gone,
// and never when it may still make it or when it was made.
func TestALandingACrashLostIsMadeByTheNextResume(t *testing.T) {
	gone := strata.Owner{Host: "a-host-that-died", PID: 4242}
	cases := []struct {
		name string
		// before makes the landing due with the pipeline as (devAuto, stagingAuto) says.
		devAuto, stagingAuto bool
		before               func(t *testing.T, e *engine.Engine)
		later                time.Duration     // how long after, resume runs
		want                 map[string]string // stage -> the version promoted there, "" none
	}{
		{
			name:    "a success in dev whose process died lands in staging",
			devAuto: true, before: func(t *testing.T, e *engine.Engine) { release(t, e, "1") },
			later: 2 * time.Minute, want: map[string]string{"dev": "1", "staging": "1"},
		},
		{
			name:   "a release whose process died before landing lands in dev and on in staging",
			before: func(t *testing.T, e *engine.Engine) { release(t, e, "1") },
			later:  2 * time.Minute, want: map[string]string{"dev": "1", "staging": "1"},
		},
		{
			name:    "a landing whose maker may still be at work is left to it",
			devAuto: true, before: func(t *testing.T, e *engine.Engine) { release(t, e, "1") },
			later: 10 * time.Second, want: map[string]string{"dev": "1", "staging": ""},
		},
		{
			name:    "a release promoted there by hand is not promoted again",
			devAuto: true, before: func(t *testing.T, e *engine.Engine) {
				release(t, e, "1")
				if _, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "app", Version: "1", To: "staging"}); err != nil {
					t.Fatal(err)
				}
			},
			later: 2 * time.Minute, want: map[string]string{"dev": "1", "staging": "1"},
		},
		{
			name:    "only the newest release of a service is landed",
			devAuto: true, before: func(t *testing.T, e *engine.Engine) { release(t, e, "1"); release(t, e, "2") },
			later: 2 * time.Minute, want: map[string]string{"dev": "2", "staging": "2"},
		},
		{
			name:    "a landing older than a day is left alone",
			devAuto: true, before: func(t *testing.T, e *engine.Engine) { release(t, e, "1") },
			later: 25 * time.Hour, want: map[string]string{"dev": "1", "staging": ""},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, landingYAML(c.devAuto, c.stagingAuto))
			start := time.Now()
			e := w.engine()
			e.Owner, e.Now = gone, func() time.Time { return start }
			c.before(t, e)

			w.writeYAML(landingYAML(true, true))
			e = w.engine()
			e.Now = func() time.Time { return start.Add(c.later) }
			if _, err := e.Resume(t.Context()); err != nil {
				t.Fatalf("resume: %v", err)
			}
			if _, err := e.Resume(t.Context()); err != nil {
				t.Fatalf("resume again: %v", err)
			}
			for stage, want := range c.want {
				ps, err := w.store.Promotions(t.Context(), strata.PromotionFilter{Service: "app", Stage: stage})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range ps {
					got = append(got, p.Version+":"+p.State)
				}
				switch {
				case want == "" && len(ps) != 0:
					t.Errorf("%s holds promotions %v, want none", stage, got)
				case want != "" && (len(ps) == 0 || ps[0].Version != want || ps[0].State != strata.Succeeded):
					t.Errorf("%s holds promotions %v (newest first), want %s succeeded newest", stage, got, want)
				case want != "" && countVersion(ps, want) != 1:
					t.Errorf("%s holds promotions %v, want %s promoted there once", stage, got, want)
				}
			}
		})
	}
}

func release(t *testing.T, e *engine.Engine, version string) {
	t.Helper()
	if _, err := e.Release(t.Context(), "app", version); err != nil {
		t.Fatalf("release %s: %v", version, err)
	}
}

func countVersion(ps []*strata.Promotion, version string) int {
	n := 0
	for _, p := range ps {
		if p.Version == version {
			n++
		}
	}
	return n
}
