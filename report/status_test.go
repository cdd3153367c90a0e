package report_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
	"github.com/strata-dev/strata/sqlite"
)

// countingStore is a Store that counts the deployments its Deployments calls return.
type countingStore struct {
	strata.Store
	mu   sync.Mutex
	rows int
}

func (s *countingStore) Deployments(ctx context.Context, f strata.DeploymentFilter) ([]*strata.Deployment, error) {
	ds, err := s.Store.Deployments(ctx, f)
	s.mu.Lock()
	s.rows += len(ds)
	s.mu.Unlock()
	return ds, err
}

// statusEstate has three environments (and the short-lived ones a test makes) and two
// services.
const statusEstate = `project: status
environments:
  dev: {}
  stg: {}
  prod: {}
services:
  db:
    deploy: "true"
  api:
    deploy: "true"
`

// wholeHistoryStatus is the matrix as NewStatus built it from every deployment ever made:
// the newest of each pair, of any state, with those whose process is gone marked interrupted,
// except that deployments made before a short-lived environment was made are skipped. The
// whole-history code did not skip them, and showed a short-lived environment made again
// under an old name with the earlier one's newest deployments (their state, and links to
// them) while Current said nothing ran there; skipping them is the stale rule the engine
// judges by.
func wholeHistoryStatus(t *testing.T, e *engine.Engine) *report.Status {
	t.Helper()
	cur, err := e.Current(t.Context())
	must(t, err)
	all, err := e.Store.Deployments(t.Context(), strata.DeploymentFilter{})
	must(t, err)
	report.MarkInterrupted(t.Context(), e, all)
	latest := map[plan.Pair]*strata.Deployment{}
	for _, d := range all {
		if en := e.Project.Environment(d.Environment); en != nil && en.Ephemeral && d.CreatedAt.Before(en.Created) {
			continue
		}
		if k := (plan.Pair{Service: d.Service, Environment: d.Environment}); latest[k] == nil {
			latest[k] = d
		}
	}
	doc := &report.Status{Cells: []report.Cell{}}
	for _, env := range e.Project.Environments {
		for _, s := range e.Project.Services {
			k := plan.Pair{Service: s.Name, Environment: env.Name}
			c := report.Cell{Service: s.Name, Environment: env.Name, Health: strata.HealthUnknown, Ephemeral: env.Ephemeral, Expires: report.TimePtr(env.Expires)}
			if d := cur[k]; d != nil {
				c.Version, c.DeployedAt = d.Version, report.TimePtr(d.FinishedAt)
				if d.Health != "" {
					c.Health = d.Health
				}
			}
			if d := latest[k]; d != nil {
				c.State, c.Latest = d.State, d.ID
			}
			doc.Cells = append(doc.Cells, c)
		}
	}
	return doc
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStatusReadsWhatItShowsAndShowsWhatTheWholeHistoryShows(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(statusEstate), 0o644))
	store, err := sqlite.Open(filepath.Join(dir, ".strata", "state.db"), nil)
	must(t, err)
	t.Cleanup(func() { store.Close() })
	ctx := t.Context()
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

	// A short-lived environment made at t0+500m, where deployments from before are of an
	// earlier environment of that name; and one made again after every deployment of the
	// history, where all of them are.
	late := t0.Add(10000 * time.Minute)
	must(t, store.CreateEnvironment(ctx, &strata.EphemeralEnv{Name: "pr-1", Like: "stg", CreatedBy: "tester", CreatedAt: t0.Add(500 * time.Minute)}, nil))
	must(t, store.CreateEnvironment(ctx, &strata.EphemeralEnv{Name: "pr-2", Like: "stg", CreatedBy: "tester", CreatedAt: late.Add(time.Minute)}, nil))
	engineNow := func() *engine.Engine {
		p, _, err := config.Load(dir)
		must(t, err)
		_, err = engine.LoadEnvironments(ctx, p, store)
		must(t, err)
		return engine.New(p, store, "tester")
	}
	e := engineNow()

	// A long history: every third deployment at the same instant as the one before, some
	// recorded out of the order of their times, every fifth failed and every seventh rolled
	// back; a service gone from strata.yaml; nothing at all of api in prod.
	n := 0
	record := func(d *strata.Deployment) {
		t.Helper()
		d.Kind, d.Actor = "deploy", "tester"
		if d.StartedAt.IsZero() {
			d.StartedAt, d.FinishedAt = d.CreatedAt, d.CreatedAt.Add(time.Minute)
		}
		must(t, store.CreateDeployment(ctx, d, nil))
		n++
	}
	for round := range 30 {
		for j, env := range []string{"dev", "stg", "prod", "pr-1", "pr-2"} {
			for _, svc := range []string{"db", "api", "gone"} {
				if svc == "api" && env == "prod" {
					continue
				}
				at := time.Duration(round*20+j*3+n/3) * time.Minute
				if round%4 == 3 && n%2 == 0 {
					at -= 30 * time.Minute
				}
				d := &strata.Deployment{Service: svc, Environment: env, Version: string(rune('a' + round%26)),
					State: strata.Succeeded, Health: strata.Healthy, CreatedAt: t0.Add(at)}
				switch {
				case n%7 == 0:
					d.State = strata.RolledBack
				case n%5 == 0:
					d.State = strata.Failed
				case n%3 == 0:
					d.Health = strata.Unhealthy
				}
				record(d)
			}
		}
	}
	// Active deployments, recorded last in their pairs: one whose process is gone (shown
	// interrupted), one of this live process (shown running), and one whose process is gone
	// but that is not its pair's newest (shown nowhere).
	gone := strata.Owner{Host: "gone.example", PID: 1}
	record(&strata.Deployment{Service: "db", Environment: "prod", Version: "z", State: strata.Running,
		Owner: gone, LeaseUntil: t0, CreatedAt: late, StartedAt: late})
	record(&strata.Deployment{Service: "api", Environment: "stg", Version: "z", State: strata.Running,
		Owner: e.Owner, LeaseUntil: late.Add(time.Hour), CreatedAt: late, StartedAt: late})
	record(&strata.Deployment{Service: "db", Environment: "dev", Version: "y", State: strata.Running,
		Owner: gone, LeaseUntil: t0, CreatedAt: t0, StartedAt: t0})
	// The earlier pr-2's last deployment failed: shown, it would read "- (failed)".
	record(&strata.Deployment{Service: "api", Environment: "pr-2", Version: "z", State: strata.Failed, CreatedAt: late})

	want := wholeHistoryStatus(t, e)
	counting := &countingStore{Store: store}
	e.Store = counting
	got, err := report.NewStatus(ctx, e)
	must(t, err)

	t.Run("the document is the one the whole history gives", func(t *testing.T) {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("status:\n%+v\nwant, as from the whole history:\n%+v", got.Cells, want.Cells)
		}
		states := map[plan.Pair]string{}
		for _, c := range got.Cells {
			states[plan.Pair{Service: c.Service, Environment: c.Environment}] = c.State
		}
		for k, state := range map[plan.Pair]string{
			{Service: "db", Environment: "prod"}:  strata.Interrupted,
			{Service: "api", Environment: "stg"}:  strata.Running,
			{Service: "api", Environment: "prod"}: "",
		} {
			if states[k] != state {
				t.Errorf("%s in %s shows state %q, want %q", k.Service, k.Environment, states[k], state)
			}
		}
	})

	t.Run("the text is the one the whole history gives", func(t *testing.T) {
		now := late.Add(time.Hour)
		if g, w := textOf(func(w io.Writer) { got.WriteText(w, now) }), textOf(func(w io.Writer) { want.WriteText(w, now) }); g != w {
			t.Errorf("text:\n%s\nwant:\n%s", g, w)
		}
	})

	t.Run("a short-lived environment made again shows nothing deployed", func(t *testing.T) {
		for _, c := range got.Cells {
			if c.Environment == "pr-2" && (c.State != "" || c.Latest != "" || c.Version != "" || c.DeployedAt != nil) {
				t.Errorf("%s in pr-2 shows %+v, want nothing: its deployments are of the earlier pr-2", c.Service, c)
			}
		}
		var row string
		for line := range strings.Lines(textOf(func(w io.Writer) { got.WriteText(w, late) })) {
			if strings.HasPrefix(line, "pr-2 ") {
				row = line
			}
		}
		if f := strings.Fields(row); len(f) != 4 || f[2] != "-" || f[3] != "-" { // pr-2 (short-lived) db api
			t.Errorf("the text's pr-2 row is %q, want a dash for each service", row)
		}
	})

	t.Run("it reads a few rows a pair, not the history", func(t *testing.T) {
		pairs := 5 * 3 // environments x services, the gone one included
		if counting.rows > 3*pairs {
			t.Errorf("status read %d deployments of a history of %d; want at most %d (a few a pair)", counting.rows, n, 3*pairs)
		}
	})
}
