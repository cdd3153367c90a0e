package http_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
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

func (s *countingStore) read() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows
}

// matrixYAML has three environments and settled more, all of whose deployments succeed
// (and the short-lived ones a test makes), and three services.
func matrixYAML(settled int) string {
	var y strings.Builder
	y.WriteString("project: matrix\nenvironments:\n  dev: {}\n  stg: {}\n  prod: {}\n")
	for i := range settled {
		fmt.Fprintf(&y, "  ok-%03d: {}\n", i)
	}
	y.WriteString("services:\n  db:\n    deploy: \"true\"\n  api:\n    deploy: \"true\"\n  web:\n    deploy: \"true\"\n")
	return y.String()
}

// wholeHistoryCells is the matrix's cells as the dashboard built them from every deployment
// ever made, newest first: per pair the first succeeded deployment is what runs there and
// the first of any state colours and links the cell, both skipped when made before the
// short-lived environment of their name was. Each cell is keyed by environment, in the
// project's order of services. now is days after every deployment, so ages are in days.
func wholeHistoryCells(t *testing.T, e *engine.Engine, now time.Time) map[string][]string {
	t.Helper()
	ctx := context.Background()
	all, err := e.Store.Deployments(ctx, strata.DeploymentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	active, err := e.Interrupted(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for _, d := range active {
		gone[d.ID] = true
	}
	type pair struct{ service, env string }
	latest, current := map[pair]*strata.Deployment{}, map[pair]*strata.Deployment{}
	for _, d := range all {
		if en := e.Project.Environment(d.Environment); en != nil && en.Ephemeral && d.CreatedAt.Before(en.Created) {
			continue
		}
		k := pair{d.Service, d.Environment}
		if latest[k] == nil {
			latest[k] = d
		}
		if d.State == strata.Succeeded && current[k] == nil {
			current[k] = d
		}
	}
	cells := map[string][]string{}
	for _, env := range e.Project.Environments {
		for _, s := range e.Project.Services {
			k := pair{s.Name, env.Name}
			l, c := latest[k], current[k]
			if l == nil {
				cells[env.Name] = append(cells[env.Name], `<td class="st-none">-</td>`)
				continue
			}
			state, version, ago := l.State, l.State, ""
			if gone[l.ID] {
				state = strata.Interrupted
			}
			if c != nil {
				version, ago = c.Version, fmt.Sprintf("%dd", int(now.Sub(c.FinishedAt)/(24*time.Hour)))
				if c.Health == strata.Unhealthy && state == strata.Succeeded {
					state = "unhealthy"
				}
			}
			cells[env.Name] = append(cells[env.Name], fmt.Sprintf(`<td class="st-%s"><a href="/deployments/%s">%s</a> <small>%s</small></td>`, state, l.ID, version, ago))
		}
	}
	return cells
}

var (
	rowRE  = regexp.MustCompile(`<tr data-env="([^"]+)">(.*?)</tr>`)
	cellRE = regexp.MustCompile(`<td class="st-[^"]*">.*?</td>`)
)

// pageCells returns the matrix's cells in page, keyed by environment.
func pageCells(page string) map[string][]string {
	cells := map[string][]string{}
	for _, row := range rowRE.FindAllStringSubmatch(page, -1) {
		cells[row[1]] = cellRE.FindAllString(row[2], -1)
	}
	return cells
}

func TestTheMatrixReadsWhatItShowsAndShowsWhatTheWholeHistoryShows(t *testing.T) {
	// The snapshot reads what runs in a pair whose newest deployment did not succeed a
	// pair at a time when such pairs are few, and for every pair at once when they are many:
	// an estate of each.
	t.Run("where many pairs' newest deployment did not succeed", func(t *testing.T) { testMatrixOnMixedHistory(t, 0) })
	t.Run("where few pairs' newest deployment did not succeed", func(t *testing.T) { testMatrixOnMixedHistory(t, 120) })
}

// testMatrixOnMixedHistory records a mixed history in dev, stg, prod and two short-lived
// environments, and one succeeded deployment of each service in settled more, and checks
// the matrix page against it.
func testMatrixOnMixedHistory(t *testing.T, settled int) {
	dir := writeProject(t, matrixYAML(settled))
	p := loadProject(t, dir)
	st := openStore(t, dir)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	t0 := now.Add(-40 * 24 * time.Hour)
	late := t0.Add(10000 * time.Minute)

	// A short-lived environment made at t0+500m, where deployments from before are of an
	// earlier environment of that name; and one made again after every deployment of the
	// history, where all of them are.
	for name, at := range map[string]time.Time{"pr-1": t0.Add(500 * time.Minute), "pr-2": late.Add(time.Minute)} {
		if err := st.CreateEnvironment(ctx, &strata.EphemeralEnv{Name: name, Like: "stg", CreatedBy: "tester", CreatedAt: at}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := engine.LoadEnvironments(ctx, p, st); err != nil {
		t.Fatal(err)
	}
	e := engine.New(p, st, "tester")
	e.Now = func() time.Time { return now }

	// A long history: every third deployment at the same instant as the one before, some
	// recorded out of the order of their times, every fifth failed and every seventh rolled
	// back; a service gone from strata.yaml; nothing at all of api in prod, nor of web in
	// pr-1 since it was made.
	n := 0
	record := func(d *strata.Deployment) {
		t.Helper()
		d.Kind, d.Actor, d.Attempt = "deploy", "tester", 1
		if d.StartedAt.IsZero() {
			d.StartedAt, d.FinishedAt = d.CreatedAt, d.CreatedAt.Add(time.Minute)
		}
		if err := st.CreateDeployment(ctx, d, nil); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for round := range 30 {
		for j, env := range []string{"dev", "stg", "prod", "pr-1", "pr-2"} {
			for _, svc := range []string{"db", "api", "web", "gone"} {
				if svc == "api" && env == "prod" {
					continue
				}
				at := time.Duration(round*20+j*3+n/3) * time.Minute
				if round%4 == 3 && n%2 == 0 {
					at -= 30 * time.Minute
				}
				if svc == "web" && env == "pr-1" && at >= 500*time.Minute {
					continue // only the earlier pr-1 ran web
				}
				d := &strata.Deployment{Service: svc, Environment: env, Version: fmt.Sprintf("1.%d", round),
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
	// but that is not its pair's newest (shown nowhere). In pr-1, web's newest failed after
	// the environment was made, and what ran before is of the earlier pr-1: the cell shows
	// the state, linked, and no version. In stg, web runs unhealthy.
	gone := strata.Owner{Host: "gone.example", PID: 1}
	record(&strata.Deployment{Service: "db", Environment: "prod", Version: "9.9", State: strata.Running,
		Owner: gone, LeaseUntil: t0, CreatedAt: late, StartedAt: late})
	record(&strata.Deployment{Service: "api", Environment: "stg", Version: "9.9", State: strata.Running,
		Owner: e.Owner, LeaseUntil: now.Add(time.Hour), CreatedAt: late, StartedAt: late})
	record(&strata.Deployment{Service: "db", Environment: "dev", Version: "9.8", State: strata.Running,
		Owner: gone, LeaseUntil: t0, CreatedAt: t0, StartedAt: t0})
	record(&strata.Deployment{Service: "web", Environment: "pr-1", Version: "9.9", State: strata.Failed, CreatedAt: late})
	record(&strata.Deployment{Service: "web", Environment: "stg", Version: "9.9", State: strata.Succeeded,
		Health: strata.Unhealthy, CreatedAt: late})
	// The earlier pr-2's last deployment failed: shown, it would be a red cell.
	record(&strata.Deployment{Service: "api", Environment: "pr-2", Version: "9.9", State: strata.Failed, CreatedAt: late})
	for i := range settled {
		for _, svc := range []string{"db", "api", "web"} {
			record(&strata.Deployment{Service: svc, Environment: fmt.Sprintf("ok-%03d", i), Version: "2.0",
				State: strata.Succeeded, Health: strata.Healthy, CreatedAt: t0.Add(time.Duration(i) * time.Minute)})
		}
	}

	want := wholeHistoryCells(t, e, now)
	counting := &countingStore{Store: st}
	se := *e
	se.Store = counting
	srv, err := strhttp.New(strhttp.Config{Engine: &se, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	x := &uiEstate{srv: httptest.NewServer(srv), tokens: makeTokens(t, st, []testToken{{"victor", strata.RoleViewer, nil}})}
	t.Cleanup(x.srv.Close)
	b := x.login(t, "victor")
	before := counting.read()
	_, page := b.get("/")
	read := counting.read() - before
	got := pageCells(page)

	t.Run("every cell is the one the whole history gives", func(t *testing.T) {
		for _, env := range p.Environments {
			g, w := got[env.Name], want[env.Name]
			if len(g) != len(w) {
				t.Errorf("%s: %d cells %q, want %d %q", env.Name, len(g), g, len(w), w)
				continue
			}
			for i := range w {
				if g[i] != w[i] {
					t.Errorf("%s, %s: %s\nwant, as from the whole history: %s", env.Name, p.Services[i].Name, g[i], w[i])
				}
			}
		}
		if len(got) != len(p.Environments) {
			t.Errorf("the page has %d rows, want one for each of %d environments", len(got), len(p.Environments))
		}
	})

	t.Run("the history shows in every colour a cell has", func(t *testing.T) {
		seen := map[string]bool{}
		for _, cells := range got {
			for _, c := range cells {
				seen[regexp.MustCompile(`st-[a-z_]+`).FindString(c)] = true
			}
		}
		for _, class := range []string{"st-succeeded", "st-unhealthy", "st-running", "st-interrupted", "st-failed", "st-rolled_back", "st-none"} {
			if !seen[class] {
				t.Errorf("no cell is %s; the history does not test it", class)
			}
		}
		if w := `<td class="st-failed"><a href="/deployments/`; !regexp.MustCompile(regexp.QuoteMeta(w) + `[^"]+">failed</a> <small></small>`).MatchString(page) {
			t.Errorf("no failed cell without a version (web in pr-1)")
		}
	})

	t.Run("a short-lived environment made again shows nothing deployed", func(t *testing.T) {
		for i, c := range got["pr-2"] {
			if c != `<td class="st-none">-</td>` {
				t.Errorf("%s in pr-2 shows %s, want nothing: its deployments are of the earlier pr-2", p.Services[i].Name, c)
			}
		}
	})

	t.Run("it reads a few rows a pair, not the history", func(t *testing.T) {
		pairs := 5*4 + settled*3 // environments x services, the gone one included
		if read > 3*pairs {
			t.Errorf("the page read %d deployments of a history of %d; want at most %d (a few a pair)", read, n, 3*pairs)
		}
	})
}
