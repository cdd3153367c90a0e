package main_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// healthEstate's services deploy the version they were built as into a scratch file
// "mode-SERVICE"; a version named bad... is unhealthy. web is checked over HTTP against a
// server the test runs, worker and cron by a command; cron's rollback policy is none. The
// 5s timeouts are what a healthy check may need on a busy machine (1s was missed); an
// unhealthy one waits them out, in parallel with the other tests.
const healthEstate = `project: health
environments:
  dev: {}
  prod: {}
services:
  web:
    build: echo "$STRATA_VERSION" > "$STRATA_ARTIFACTS/mode"
    deploy: cp "$STRATA_ARTIFACTS/mode" @SCRATCH@/mode-web
    health: {http: "@URL@/web", timeout: 5s, interval: 100ms}
    rollback: previous
  worker:
    build: echo "$STRATA_VERSION" > "$STRATA_ARTIFACTS/mode"
    deploy: cp "$STRATA_ARTIFACTS/mode" @SCRATCH@/mode-worker
    health: {command: "grep -q ^good @SCRATCH@/mode-worker", timeout: 5s, interval: 100ms}
    rollback: previous
  cron:
    build: echo "$STRATA_VERSION" > "$STRATA_ARTIFACTS/mode"
    deploy: cp "$STRATA_ARTIFACTS/mode" @SCRATCH@/mode-cron
    health: {command: "grep -q ^good @SCRATCH@/mode-cron", timeout: 5s, interval: 100ms}
    rollback: none
`

// healthServer answers 200 on /SERVICE when the scratch file mode-SERVICE starts with
// "good", else 500.
func healthServer(t *testing.T, e *estate) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := os.ReadFile(e.path("mode-" + strings.Trim(r.URL.Path, "/")))
		if strings.HasPrefix(string(b), "good") {
			w.Write([]byte("ok\n"))
			return
		}
		http.Error(w, "unhealthy", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newHealthEstate(t *testing.T) *estate {
	e := newEstate(t, healthEstate)
	srv := healthServer(t, e)
	e.write("strata.yaml", strings.ReplaceAll(strings.ReplaceAll(healthEstate, "@SCRATCH@", e.scratch), "@URL@", srv.URL))
	return e
}

func TestAFailedHealthCheckRollsBackToTheLastGoodRelease(t *testing.T) {
	t.Parallel()
	for _, svc := range []string{"web", "worker"} {
		t.Run("for a "+map[string]string{"web": "http", "worker": "command"}[svc]+" health check", func(t *testing.T) {
			t.Parallel() // each has its own estate
			e := newHealthEstate(t)
			for _, v := range []string{"good1", "bad2", "good3"} {
				e.release(svc, "--version", v)
			}
			good := e.deploy(0, svc+"@good1", "--env", "dev")
			if good.State != "succeeded" {
				t.Fatalf("good1: got %q, want succeeded", good.State)
			}

			r := e.must(1, "deploy", svc+"@bad2", "--env", "dev")
			if !strings.Contains(r.stderr, "health") || !strings.Contains(r.stderr, "good1") {
				t.Errorf("the failure should say the health check failed and that it rolled back to good1:\n%s", r)
			}
			ds := e.history(svc, "--env", "dev")
			if len(ds) != 3 {
				t.Fatalf("history: want good1, bad2 and the rollback, got %+v", ds)
			}
			rb, bad := ds[0], ds[1]
			if bad.Version != "bad2" || bad.State != "rolled_back" {
				t.Errorf("the failed deployment: got %s %s, want bad2 rolled_back", bad.Version, bad.State)
			}
			if rb.Version != "good1" || rb.State != "succeeded" || rb.Kind != "rollback" || rb.RollbackOf != bad.ID {
				t.Errorf("the rollback deployment: got %+v, want good1 succeeded, kind rollback, rollback_of %s", rb, bad.ID)
			}
			if got := e.read("mode-" + svc); got != "good1\n" {
				t.Errorf("what runs after the rollback: %q, want good1", got)
			}

			e.deploy(0, svc+"@good3", "--env", "dev")
			back := e.must(0, "rollback", svc, "--env", "dev", "-o", "json")
			var d deployment
			jsonDoc(t, back, &d)
			if d.Version != "good1" || d.State != "succeeded" || e.read("mode-"+svc) != "good1\n" {
				t.Errorf("`rollback %s --env dev` from good3: got %s %s (running %q), want good1", svc, d.Version, d.State, e.read("mode-"+svc))
			}
			to := e.must(0, "rollback", svc, "--env", "dev", "--to", "good3", "-o", "json")
			jsonDoc(t, to, &d)
			if d.Version != "good3" || d.State != "succeeded" || e.read("mode-"+svc) != "good3\n" {
				t.Errorf("`rollback --to good3`: got %s %s (running %q), want good3", d.Version, d.State, e.read("mode-"+svc))
			}
			if ds := e.history(svc, "--env", "prod"); len(ds) != 0 {
				t.Errorf("rollbacks in dev touched prod: %+v", ds)
			}
		})
	}
}

func TestAFailedHealthCheckWithRollbackNoneLeavesTheDeploymentFailed(t *testing.T) {
	t.Parallel()
	e := newHealthEstate(t)
	e.release("cron", "--version", "good1")
	e.release("cron", "--version", "bad2")
	e.deploy(0, "cron@good1", "--env", "dev")
	d := e.deploy(1, "cron@bad2", "--env", "dev")
	if d.State != "failed" {
		t.Errorf("state: got %q, want failed", d.State)
	}
	if ds := e.history("cron"); len(ds) != 2 {
		t.Errorf("history: want good1 and bad2 only (no rollback), got %+v", ds)
	}
}

func TestRollbackWithNothingToGoBackToIsRefused(t *testing.T) {
	t.Parallel()
	e := newHealthEstate(t)
	e.release("web", "--version", "good1")
	r := e.must(2, "rollback", "web", "--env", "dev")
	if !strings.Contains(r.stderr, "web") || !strings.Contains(r.stderr, "dev") {
		t.Errorf("the refusal should name the service and environment:\n%s", r)
	}
	e.deploy(0, "web@good1", "--env", "dev")
	if r := e.must(2, "rollback", "web", "--env", "dev"); !strings.Contains(r.stderr, "--to") {
		t.Errorf("with one release deployed, rollback should suggest --to:\n%s", r)
	}
	if r := e.must(2, "rollback", "web", "--env", "dev", "--to", "good9"); !strings.Contains(r.stderr, "good1") {
		t.Errorf("rollback --to an unknown version should list the known ones:\n%s", r)
	}
}

func TestAHealthCheckIsRetriedUntilItPasses(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent) // any 2xx is healthy
	}))
	t.Cleanup(srv.Close)
	e := newEstate(t, `project: health
environments:
  dev: {}
services:
  web:
    deploy: "true"
    health: {http: "`+srv.URL+`/healthz", timeout: 10s, interval: 100ms}
  worker:
    deploy: "true"
    health:
      command: n=$(cat @SCRATCH@/tries 2>/dev/null || echo 0); n=$((n+1)); echo $n > @SCRATCH@/tries; [ $n -ge 3 ]
      timeout: 10s
      interval: 100ms
`)
	for _, svc := range []string{"web", "worker"} {
		t.Run("for a "+map[string]string{"web": "http", "worker": "command"}[svc]+" health check that fails twice", func(t *testing.T) {
			e := e.with(t)
			e.release(svc, "--version", "1")
			d := e.deploy(0, svc+"@1", "--env", "dev")
			if d.State != "succeeded" {
				t.Errorf("got %s, want succeeded once the third try passed", d.State)
			}
			if r := e.must(0, "logs", d.ID); !strings.Contains(r.stdout, "health: ok after 3 tries") {
				t.Errorf("the stored log should say the check passed at the third try:\n%s", r)
			}
		})
	}
}
