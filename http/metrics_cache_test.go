package http_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
)

// tallyCounter counts the store's tallies, and (countingStore) the deployments read.
type tallyCounter struct {
	countingStore
	tallies atomic.Int64
}

func (s *tallyCounter) TallyDeployments(ctx context.Context, bounds []float64) (*strata.DeploymentTally, error) {
	s.tallies.Add(1)
	return s.Store.TallyDeployments(ctx, bounds)
}

// A scrape reads no history (the store counts the deployments; the unhealthy figure reads
// one deployment a pair), counts again only when the store changed since the one before
// (the audit log's newest event moved), and always reports what the store holds.
func TestMetricsCountTheDeploymentsAgainOnlyWhenTheStoreChanged(t *testing.T) {
	dir := writeProject(t, matrixYAML(0))
	p := loadProject(t, dir)
	st := openStore(t, dir)
	ctx := context.Background()
	ev := func(action string) *strata.Event { return &strata.Event{Actor: "tester", Action: action} }
	var running *strata.Deployment
	for i, env := range []string{"dev", "stg", "prod"} {
		d := &strata.Deployment{Service: "api", Environment: env, Version: "1", State: strata.Running, Kind: "deploy", Actor: "tester",
			Attempt: 1, Owner: strata.Owner{Host: "h", PID: 1, Start: 1}, StartedAt: time.Now(), LeaseUntil: time.Now().Add(time.Hour)}
		if err := st.CreateDeployment(ctx, d, ev("deploy")); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			d.State, d.FinishedAt = strata.Succeeded, d.StartedAt.Add(time.Second)
			if err := st.UpdateDeployment(ctx, d, ev("deployment.succeeded")); err != nil {
				t.Fatal(err)
			}
		} else {
			running = d
		}
	}
	counting := &tallyCounter{countingStore: countingStore{Store: st}}
	e := engine.New(p, counting, "tester")
	srv, err := strhttp.New(strhttp.Config{Engine: e, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	token := makeTokens(t, st, []testToken{{"victor", strata.RoleViewer, nil}})["victor"]
	scrape := func() (string, int64) {
		t.Helper()
		before, tallies := counting.read(), counting.tallies.Load()
		req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
		}
		// The unhealthy figure reads what runs in each pair: at most one deployment a pair
		// (three here), however long the history.
		if read := counting.read() - before; read > 3 || tallies == counting.tallies.Load() && read != 0 {
			t.Errorf("a scrape read %d deployments, want at most one a pair, and none when it counted nothing", read)
		}
		return string(b), counting.tallies.Load() - tallies
	}

	first, tallied := scrape()
	if tallied != 1 || !strings.Contains(first, `strata_deployments{state="succeeded"} 2`) || !strings.Contains(first, `strata_deployments{state="running"} 1`) {
		t.Fatalf("the first scrape counted %d times and says:\n%s", tallied, first)
	}
	again, tallied := scrape()
	if tallied != 0 {
		t.Errorf("a scrape of an unchanged store counted %d times, want none", tallied)
	}
	if !strings.Contains(again, `strata_deployments{state="succeeded"} 2`) || !strings.Contains(again, `strata_deployment_duration_seconds_count 2`) {
		t.Errorf("the second scrape says:\n%s", again)
	}
	running.State, running.FinishedAt = strata.Failed, running.StartedAt.Add(time.Second)
	if err := st.UpdateDeployment(ctx, running, ev("deployment.failed")); err != nil {
		t.Fatal(err)
	}
	after, tallied := scrape()
	if tallied != 1 || !strings.Contains(after, `strata_deployments{state="failed"} 1`) || !strings.Contains(after, `strata_deployments{state="running"} 0`) ||
		!strings.Contains(after, `strata_deployment_duration_seconds_count 3`) {
		t.Errorf("after a deployment failed, the scrape counted %d times and says:\n%s", tallied, after)
	}
}
