package main_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// TestAFailedHealthCheckNamesWhatItLastObserved deploys against answers that are not the
// deployed process's: the deployment's error, `history`, the audit event and `-o json` name
// what the check saw, never a bare "context deadline exceeded".
func TestAFailedHealthCheckNamesWhatItLastObserved(t *testing.T) {
	// The server plays whoever holds the port: an older release, nothing at that path, a
	// process that accepts and never answers.
	hung := make(chan struct{})
	t.Cleanup(func() { close(hung) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			w.Write([]byte("ok shop v1.0.0 (staging)\n"))
		case "/hang":
			select {
			case <-hung:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	cases := []struct {
		name   string
		health string
		want   string
	}{
		{"another release holding the port is told apart by the body", `{http: "` + srv.URL + `/old", contains: "v${release.version}", timeout: 1s, interval: 100ms}`, `body does not contain \"v1.1.0\" (it begins \"ok shop v1.0.0 (staging)\")`},
		{"a path nothing serves names the status", `{http: "` + srv.URL + `/healthz", timeout: 1s, interval: 100ms}`, "/healthz: 404 Not Found"},
		{"a status other than the one wanted names both", `{http: "` + srv.URL + `/old", status: 204, timeout: 1s, interval: 100ms}`, "/old: 200 OK (want 204 No Content)"},
		{"a port nobody holds says the connection was refused", `{http: "` + closedURL + `/healthz", timeout: 1s, interval: 100ms}`, "connection refused"},
		{"a server that never answers says how long it waited", `{http: "` + srv.URL + `/hang", timeout: 1s, interval: 100ms}`, "/hang: no answer within"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEstate(t, `project: health
environments:
  dev: {}
services:
  web:
    deploy: "true"
    rollback: none
    health: `+c.health+`
`)
			e.release("web", "--version", "1.1.0")
			r := e.must(1, "deploy", "web@1.1.0", "--env", "dev", "-o", "json")
			var d struct {
				ID, State, Health, Error string
			}
			jsonDoc(t, r, &d)
			var hist []struct{ ID, Error string }
			jsonDoc(t, e.must(0, "history", "web", "-o", "json"), &hist)
			var events []struct {
				Action, Subject string
				Detail          json.RawMessage
			}
			jsonDoc(t, e.must(0, "audit", "-o", "json"), &events)
			var audited string
			for _, ev := range events {
				if ev.Subject == d.ID && ev.Action == "deployment.failed" {
					var detail struct{ Error string }
					json.Unmarshal(ev.Detail, &detail)
					audited = detail.Error
				}
			}
			if len(hist) != 1 {
				t.Fatalf("history lists %d deployments, want 1", len(hist))
			}
			for where, got := range map[string]string{"deploy -o json": d.Error, "history": hist[0].Error, "the audit event": audited, "stderr": r.stderr} {
				if !strings.Contains(strings.ReplaceAll(got, `\"`, `"`), strings.ReplaceAll(c.want, `\"`, `"`)) {
					t.Errorf("%s says %q, want it to contain %q", where, got, c.want)
				}
				if strings.Contains(got, "context deadline exceeded") {
					t.Errorf("%s says %q, want what was observed rather than the deadline", where, got)
				}
			}
			if d.State != "failed" || d.Health != "unhealthy" {
				t.Errorf("got state %s health %s, want failed unhealthy", d.State, d.Health)
			}
		})
	}
}

// TestServeWatchesHealthAfterTheDeployment: `serve --health-interval` checks what runs
// again; a local `strata status` and `strata drift`, reading the store, see what it saw.
func TestServeWatchesHealthAfterTheDeployment(t *testing.T) {
	var answer atomic.Value
	answer.Store("ok v1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(answer.Load().(string)))
	}))
	t.Cleanup(srv.Close)
	e := newEstate(t, `project: health
environments:
  dev: {}
services:
  web:
    deploy: "true"
    health: {http: "`+srv.URL+`/healthz", contains: "v${release.version}", timeout: 2s, interval: 50ms}
`)
	e.release("web", "--version", "1")
	d := e.deploy(0, "web@1", "--env", "dev")
	serveWith(t, e, "--health-interval", "200ms")

	health := func() (string, string) {
		var doc struct {
			Cells []struct {
				Service, Health string
				HealthDetail    string `json:"health_detail"`
			}
		}
		jsonDoc(t, e.must(0, "status", "-o", "json"), &doc)
		for _, c := range doc.Cells {
			if c.Service == "web" {
				return c.Health, c.HealthDetail
			}
		}
		return "", ""
	}
	if got, _ := health(); got != "healthy" {
		t.Errorf("status health %q right after the deployment, want healthy", got)
	}
	answer.Store("ok v0")
	waitFor(t, 20*time.Second, "status to show web unhealthy", func() bool { got, _ := health(); return got == "unhealthy" })
	if _, detail := health(); !strings.Contains(detail, `body does not contain "v1" (it begins "ok v0")`) {
		t.Errorf("status health_detail %q, want what the check saw", detail)
	}
	var drift struct {
		Drift []struct{ Kind, Detail, Deployment string }
	}
	jsonDoc(t, e.must(1, "drift", "-o", "json"), &drift)
	if len(drift.Drift) != 1 || drift.Drift[0].Kind != "health" || drift.Drift[0].Deployment != d.ID {
		t.Errorf("drift %+v, want web's deployment as health drift", drift.Drift)
	}
	if r := e.must(0, "status"); !strings.Contains(r.stdout, "(unhealthy)") {
		t.Errorf("status text does not mark web unhealthy:\n%s", r)
	}
	answer.Store("ok v1")
	waitFor(t, 20*time.Second, "status to show web healthy again", func() bool { got, _ := health(); return got == "healthy" })
	if ds := e.history("web"); len(ds) != 1 {
		t.Errorf("history lists %d deployments, want the one (nothing is rolled back)", len(ds))
	}
}

func TestServeRefusesANegativeOrTinyHealthInterval(t *testing.T) {
	e := newEstate(t, "project: health\nenvironments:\n  dev: {}\nservices:\n  web: {deploy: \"true\"}\n")
	for _, d := range []string{"-1s", "1ns", "99ms"} {
		r := e.must(2, "serve", "--listen", "127.0.0.1:0", "--health-interval", d)
		if !strings.Contains(r.stderr, "--health-interval "+d) || !strings.Contains(r.stderr, "at least 100ms") || !strings.Contains(r.stderr, "0 to") {
			t.Errorf("the refusal of %s should name the flag, the least it takes and what would do:\n%s", d, r)
		}
	}
}

func TestServeRefusesAMemoryLimitItCannotRead(t *testing.T) {
	e := newEstate(t, "project: mem\nenvironments:\n  dev: {}\nservices:\n  web: {deploy: \"true\"}\n")
	for _, bad := range []string{"lots", "150MB", "1MiB", "$(touch pwned)"} {
		r := e.must(2, "serve", "--listen", "127.0.0.1:0", "--memory-limit", bad)
		if !strings.Contains(r.stderr, "--memory-limit") || !strings.Contains(r.stderr, "150MiB") {
			t.Errorf("--memory-limit %s: the refusal should name the flag and what would do:\n%s", bad, r)
		}
	}
}

// TestAShortLivedEnvironmentIsNotMadeHealthyByTheOneItIsLike: pr-1, made like staging,
// inherits staging's URL; its own server never started, and staging's answers there. With
// contains naming the environment, the check tells them apart.
func TestAShortLivedEnvironmentIsNotMadeHealthyByTheOneItIsLike(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok web v1 (staging)\n"))
	}))
	t.Cleanup(srv.Close)
	e := newEstate(t, `project: health
environments:
  staging: {}
services:
  web:
    deploy: "true"
    rollback: none
    health: {http: "`+srv.URL+`/healthz", contains: "v${release.version} (${env.name})", timeout: 1s, interval: 100ms}
`)
	e.release("web", "--version", "1")
	if d := e.deploy(0, "web@1", "--env", "staging"); d.State != "succeeded" {
		t.Fatalf("staging: %s, want succeeded", d.State)
	}
	e.must(0, "env", "create", "pr-1", "--like", "staging")
	r := e.must(1, "deploy", "web@1", "--env", "pr-1")
	if want := `body does not contain "v1 (pr-1)" (it begins "ok web v1 (staging)")`; !strings.Contains(r.stderr, want) {
		t.Errorf("the failure should say staging answered:\n%s\nwant %s", r, want)
	}
}

// TestTwoServersOnPostgresAnnounceEachHealthTransitionOnce: two `strata serve` processes on
// one PostgreSQL store check the same deployment; each transition is recorded, and sent to
// the webhook, once.
func TestTwoServersOnPostgresAnnounceEachHealthTransitionOnce(t *testing.T) {
	_, storeURL := pgSchema(t)
	var answer atomic.Value
	answer.Store("ok v1")
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(answer.Load().(string)))
	}))
	t.Cleanup(app.Close)
	var mu sync.Mutex
	var hooks []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Event, Environment, Deployment string }
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		hooks = append(hooks, m.Event+" "+m.Environment+" "+m.Deployment)
		mu.Unlock()
	}))
	t.Cleanup(receiver.Close)
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(hooks)
	}
	e := newEstate(t, `project: health
environments:
  dev: {}
services:
  web:
    deploy: "true"
    health: {http: "`+app.URL+`/healthz", contains: "v${release.version}", timeout: 2s, interval: 50ms}
notify:
  - {url: "`+receiver.URL+`/hook", events: [unhealthy, recovered]}
`)
	e.env = append(e.env, "STRATA_STORE="+storeURL)
	e.release("web", "--version", "1")
	d := e.deploy(0, "web@1", "--env", "dev")
	serveWith(t, e, "--health-interval", "200ms")
	serveWith(t, e, "--health-interval", "200ms")

	answer.Store("ok v0")
	waitFor(t, 20*time.Second, "the unhealthy webhook", func() bool { return len(received()) >= 1 })
	answer.Store("ok v1")
	waitFor(t, 20*time.Second, "the recovered webhook", func() bool { return len(received()) >= 2 })
	want := []string{"unhealthy dev " + d.ID, "recovered dev " + d.ID}
	if got := received(); !slices.Equal(got, want) {
		t.Errorf("webhooks %q, want %q: each transition once", got, want)
	}
	var events []struct{ Action, Subject string }
	jsonDoc(t, e.must(0, "audit", "-o", "json"), &events)
	var got []string
	for _, ev := range events {
		if strings.HasPrefix(ev.Action, "health.") {
			got = append(got, ev.Action+" "+ev.Subject)
		}
	}
	if want := []string{"health.unhealthy " + d.ID, "health.recovered " + d.ID}; !slices.Equal(got, want) {
		t.Errorf("audit %q, want %q", got, want)
	}
}
