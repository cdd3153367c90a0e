package http_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/step"
)

// healthAnswers is the estate's health endpoint: per environment (the path), the status
// and body a test sets.
type healthAnswers struct {
	mu   sync.Mutex
	code map[string]int
	body map[string]string
}

func (h *healthAnswers) set(env string, code int, body string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.code["/"+env], h.body["/"+env] = code, body
}

func (h *healthAnswers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	code, body := h.code[r.URL.Path], h.body[r.URL.Path]
	h.mu.Unlock()
	if code == 0 {
		code = http.StatusNotFound
	}
	w.WriteHeader(code)
	w.Write([]byte(body))
}

// watchYAML checks api at @URL@/ENV for its version; worker has no check.
const watchYAML = `project: shop
environments:
  dev: {}
  staging: {}
  prod: {}
services:
  api:
    deploy: "true"
    health: {http: "@URL@/${env.name}", contains: "v${release.version}", timeout: 2s, interval: 10ms}
  worker:
    deploy: "true"
`

// newWatchEstate serves watchYAML (with webhooks to hooks, when not "") with api@1 and
// worker@1 deployed, and healthy, everywhere.
func newWatchEstate(t *testing.T, hooks string) (*apiEstate, *healthAnswers) {
	h := &healthAnswers{code: map[string]int{}, body: map[string]string{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	y := strings.ReplaceAll(watchYAML, "@URL@", srv.URL)
	if hooks != "" {
		y += "notify:\n  - url: " + hooks + "\n    events: [unhealthy, recovered]\n"
	}
	x := newAPIEstate(t, y)
	for _, env := range []string{"dev", "staging", "prod"} {
		h.set(env, 200, "ok api v1 ("+env+")")
		for _, svc := range []string{"api", "worker"} {
			if _, err := x.engine.Release(t.Context(), svc, "1"); err != nil && strata.ErrorCode(err) != strata.ECONFLICT {
				t.Fatal(err)
			}
			if _, err := x.engine.Deploy(t.Context(), engine.DeployRequest{Service: svc, Version: "1", Env: env}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return x, h
}

// cell returns api's status cell in env, through the API.
func (x *apiEstate) cell(env string) map[string]any {
	x.t.Helper()
	var doc struct{ Cells []map[string]any }
	r := x.do("victor", "GET", "/api/v1/status", nil)
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		x.t.Fatalf("status: %v\n%s", err, r.body)
	}
	for _, c := range doc.Cells {
		if c["service"] == "api" && c["environment"] == env {
			return c
		}
	}
	x.t.Fatalf("status has no cell for api in %s:\n%s", env, r.body)
	return nil
}

// metric returns the line of /metrics that starts with name.
func (x *apiEstate) metric(name string) string {
	x.t.Helper()
	for _, line := range strings.Split(x.do("victor", "GET", "/metrics", nil).body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return line
		}
	}
	return ""
}

func TestHealthIsWatchedAfterTheDeployment(t *testing.T) {
	rc := newReceiver(t, 0, 0)
	x, h := newWatchEstate(t, rc.srv.URL)
	// A second replica on the same store, through its own connection.
	second, _ := x.serveWith(x.newEngine(openStore(t, x.dir)), 0, nil)
	both := func() {
		var wg sync.WaitGroup
		for _, s := range []*strhttp.Server{x.server, second} {
			wg.Go(func() { s.RecheckHealth(t.Context()) })
		}
		wg.Wait()
	}
	dev := x.deploymentIn("dev")

	t.Run("a deployment that passes its check is healthy, and nothing is announced", func(t *testing.T) {
		both()
		if got := x.cell("dev")["health"]; got != strata.Healthy {
			t.Errorf("dev health %v, want healthy", got)
		}
		if got := x.metric("strata_unhealthy_deployments"); got != "strata_unhealthy_deployments 0" {
			t.Errorf("metrics: %q, want 0 unhealthy", got)
		}
	})

	// What holds dev's port now is the release before: the answer no longer has v1.
	h.set("dev", 200, "ok api v0 (dev)")
	t.Run("a deployment whose check now fails is unhealthy everywhere it is shown, once", func(t *testing.T) {
		both()
		c := x.cell("dev")
		if c["health"] != strata.Unhealthy || !strings.Contains(c["health_detail"].(string), `body does not contain "v1"`) {
			t.Errorf("dev cell %v, want unhealthy saying the body lacks v1", c)
		}
		if got := x.cell("prod")["health"]; got != strata.Healthy {
			t.Errorf("prod health %v, want healthy", got)
		}
		if got := x.metric("strata_unhealthy_deployments"); got != "strata_unhealthy_deployments 1" {
			t.Errorf("metrics: %q, want 1 unhealthy", got)
		}
		drift := x.do("victor", "GET", "/api/v1/drift", nil).body
		if !strings.Contains(drift, `"kind": "health"`) || !strings.Contains(drift, dev.ID) {
			t.Errorf("drift does not list dev's deployment as health drift:\n%s", drift)
		}
		if got := x.count(engine.ActionUnhealthy, dev.ID); got != 1 {
			t.Errorf("%d %s events, want 1 from two servers", got, engine.ActionUnhealthy)
		}
		waitFor(t, "the unhealthy webhook", func() bool { return len(rc.events()) >= 1 })
	})

	t.Run("it is not rolled back", func(t *testing.T) {
		ds, err := x.store.Deployments(t.Context(), strata.DeploymentFilter{Service: "api", Environment: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].ID != dev.ID || ds[0].State != strata.Succeeded {
			t.Errorf("api in dev: %d deployments (newest %s %s), want only %s, succeeded", len(ds), ds[0].ID, ds[0].State, dev.ID)
		}
	})

	h.set("dev", 200, "ok api v1 (dev)")
	t.Run("it recovers, and webhooks hear each transition once", func(t *testing.T) {
		both()
		if got := x.cell("dev")["health"]; got != strata.Healthy {
			t.Errorf("dev health %v, want healthy again", got)
		}
		if got := x.metric("strata_unhealthy_deployments"); got != "strata_unhealthy_deployments 0" {
			t.Errorf("metrics: %q, want 0 unhealthy", got)
		}
		waitFor(t, "the recovered webhook", func() bool { return len(rc.events()) >= 2 })
		rc.mu.Lock()
		defer rc.mu.Unlock()
		var got []string
		for _, m := range rc.got {
			got = append(got, m.Event+" "+m.Service+" "+m.Environment+" "+m.Version+" "+m.Deployment)
		}
		want := []string{"unhealthy api dev 1 " + dev.ID, "recovered api dev 1 " + dev.ID}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("webhooks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(rc.got[0].Text, `does not contain \"v1\"`) && !strings.Contains(rc.got[0].Text, `does not contain "v1"`) {
			t.Errorf("the unhealthy webhook's text %q does not say what the check saw", rc.got[0].Text)
		}
	})
}

// waitClock is the clock of a server under test: waiting moves it, at once, up to limit;
// a wait past limit never ends.
type waitClock struct {
	mu    sync.Mutex
	now   time.Time
	limit time.Time
}

func (c *waitClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *waitClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	if c.now.Add(d).After(c.limit) {
		c.mu.Unlock()
		return nil
	}
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

func TestServeChecksEveryPairOnceAnIntervalAtItsOwnTime(t *testing.T) {
	x, _ := newWatchEstate(t, "")
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &waitClock{now: t0, limit: t0.Add(2 * time.Minute)} // two passes
	e := x.newEngine(openStore(t, x.dir))
	e.Now = clk.Now
	x.serveWith(e, 0, func(c *strhttp.Config) { c.HealthInterval, c.HealthAfter = time.Minute, clk.After })

	// Every pair checked in both passes, each at its own point of the interval.
	var checks []*strata.HealthCheck
	waitFor(t, "the second pass over every pair", func() bool {
		cs, err := x.store.HealthChecks(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.CheckedAt.Before(t0.Add(time.Minute)) {
				return false
			}
		}
		checks = cs
		return len(cs) == 3
	})
	firsts := map[time.Duration]bool{}
	for _, c := range checks {
		if c.Service != "api" || c.Health != strata.Healthy {
			t.Errorf("check %+v, want api healthy (worker has no check)", c)
		}
		firsts[c.CheckedAt.Sub(t0)%time.Minute] = true
		if c.CheckedAt.Sub(t0) >= 2*time.Minute {
			t.Errorf("api in %s checked at %s, after the second pass", c.Environment, c.CheckedAt.Sub(t0))
		}
	}
	if len(firsts) != 3 {
		t.Errorf("the three pairs were checked at %v into the interval, want three different points", firsts)
	}
}

func TestHealthWatchLeavesAPairBeingDeployedTo(t *testing.T) {
	x, _ := newWatchEstate(t, "")
	// api@2 is being deployed to staging by this process: its check would see the deployment.
	d := &strata.Deployment{Service: "api", Environment: "staging", Version: "2", State: strata.Running, Attempt: 1,
		Kind: "deploy", Owner: step.Self(), LeaseUntil: time.Now().Add(time.Hour), StartedAt: time.Now()}
	if err := x.store.CreateDeployment(t.Context(), d, nil); err != nil {
		t.Fatal(err)
	}
	x.server.RecheckHealth(t.Context())
	cs, err := x.store.HealthChecks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Service+" in "+c.Environment)
	}
	slices.Sort(got)
	if want := []string{"api in dev", "api in prod"}; !slices.Equal(got, want) {
		t.Errorf("checked %q, want %q (staging is being deployed to; worker has no check)", got, want)
	}
}

func TestHealthWatchReadsTheOutputsOfWhatACheckedServiceDependsOn(t *testing.T) {
	h := &healthAnswers{code: map[string]int{}, body: map[string]string{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// api's check is at the path its config has from db's outputs in that environment;
	// neither db nor worker has a check.
	x := newAPIEstate(t, `project: shop
environments:
  dev: {}
  prod: {}
services:
  db:
    deploy: echo "CHECK=db-$STRATA_ENV" >> "$STRATA_OUTPUTS"
  api:
    depends_on: [db]
    deploy: "true"
    health: {http: "`+srv.URL+`/${config.CHECK}", contains: "v${release.version}", timeout: 2s, interval: 10ms}
    config:
      CHECK: {type: string, default: "${outputs.db.CHECK}"}
  worker:
    deploy: "true"
`)
	for _, env := range []string{"dev", "prod"} {
		h.set("db-"+env, 200, "ok api v1 ("+env+")")
		for _, svc := range []string{"db", "api", "worker"} {
			if _, err := x.engine.Release(t.Context(), svc, "1"); err != nil && strata.ErrorCode(err) != strata.ECONFLICT {
				t.Fatal(err)
			}
			if _, err := x.engine.Deploy(t.Context(), engine.DeployRequest{Service: svc, Version: "1", Env: env}); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.set("db-prod", 503, "down")
	x.server.RecheckHealth(t.Context())
	for env, want := range map[string]string{"dev": strata.Healthy, "prod": strata.Unhealthy} {
		if got := x.cell(env)["health"]; got != want {
			t.Errorf("api in %s: health %v, want %s (checked at /db-%s)", env, got, want, env)
		}
	}
}
