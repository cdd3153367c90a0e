package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/bundledir"
	"github.com/strata-dev/strata/config"
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

// damagedElsewhere releases app@1 and returns an engine of another machine (an empty cache)
// that fetches bundles from a copy of the store's changed after the release, whose digest
// therefore no longer matches, and whose clock reads start.
func damagedElsewhere(t *testing.T, w *world, start time.Time) (*engine.Engine, *strata.Release) {
	t.Helper()
	e := w.engine()
	e.Owner, e.Now = strata.Owner{Host: "a-host-that-died", PID: 4242}, func() time.Time { return start }
	release(t, e, "1")
	rel, err := w.store.Release(t.Context(), "app", "1")
	if err != nil || rel.Bundle == "" {
		t.Fatalf("release app@1: %+v, %v; want one with a bundle", rel, err)
	}
	src := bundledir.New(filepath.Join(w.dir, ".strata"), nil)
	if err := os.WriteFile(filepath.Join(src.ArtifactsPath(rel.Digest), "planted"), []byte("not what was released\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e = w.engine()
	e.StateDir, e.Bundles = t.TempDir(), src
	e.Now = func() time.Time { return start }
	return e, rel
}

// TestAnInterruptedDeploymentWhoseBundleIsDamagedFailsOnce: a deployment whose owner is gone
// and whose bundle arrives damaged cannot run again on any pass: resume fails it once,
// saying why, instead of leaving it interrupted for every pass to try.
func TestAnInterruptedDeploymentWhoseBundleIsDamagedFailsOnce(t *testing.T) {
	w := newWorld(t, landingYAML(false, false))
	start := time.Now()
	e, rel := damagedElsewhere(t, w, start)
	d := &strata.Deployment{Service: "app", Environment: "dev", Version: "1", ReleaseID: rel.ID, State: strata.Running, Attempt: 1,
		Owner: strata.Owner{Host: "another-host", PID: 7, Start: 1}, LeaseUntil: start.Add(-time.Second), CreatedAt: start, StartedAt: start}
	if err := w.store.CreateDeployment(t.Context(), d, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Resume(t.Context()); err == nil || !strata.IsTerminal(err) {
		t.Fatalf("the first resume: %v; want a final error", err)
	}
	if _, err := e.Resume(t.Context()); err != nil {
		t.Fatalf("the next resume: %v; want nothing left to try", err)
	}
	got, err := w.store.Deployment(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != strata.Failed || got.Attempt != 1 || !strings.Contains(got.Error, "cannot resume") || !strings.Contains(got.Error, "damaged") {
		t.Errorf("the deployment: %s attempt %d %q; want failed in attempt 1, saying the bundle is damaged", got.State, got.Attempt, got.Error)
	}
}

// TestALandingThatCannotBeMadeIsGivenUpOnceAndNotTriedAgain: a lost landing whose release's
// bundle arrives damaged fails for good (strata.IsTerminal): resume records that it gave it
// up, says so once, and the passes after it neither try it again nor report it again.
func TestALandingThatCannotBeMadeIsGivenUpOnceAndNotTriedAgain(t *testing.T) {
	w := newWorld(t, landingYAML(false, false))
	start := time.Now()
	e, _ := damagedElsewhere(t, w, start)
	w.writeYAML(landingYAML(true, true)) // the release was due in dev: a crash lost it
	p, _, err := config.Load(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.Project = p
	e.Now = func() time.Time { return start.Add(2 * time.Minute) }

	_, err = e.Resume(t.Context())
	if err == nil || !strata.IsTerminal(err) || !strings.Contains(err.Error(), "landing.abandoned") {
		t.Fatalf("the first resume: %v; want a final error saying the landing was given up", err)
	}
	for i := range 2 {
		if _, err := e.Resume(t.Context()); err != nil {
			t.Fatalf("resume %d after it was given up: %v; want nothing tried again", i+2, err)
		}
	}
	if ps, _ := w.store.Promotions(t.Context(), strata.PromotionFilter{Service: "app"}); len(ps) != 0 {
		t.Errorf("promotions were recorded from a damaged bundle: %+v", ps)
	}
	evs, err := w.store.Events(t.Context(), strata.EventFilter{Action: "landing.abandoned"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || !strings.Contains(string(evs[0].Detail), `"stage":"dev"`) || !strings.Contains(string(evs[0].Detail), "nothing of it ran") {
		t.Errorf("landing.abandoned events: %d (want one naming dev and the failure): %+v", len(evs), evs)
	}
}
