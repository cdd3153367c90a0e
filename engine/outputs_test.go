package engine_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// outputsEstate: db writes the scratch file db-outputs to $STRATA_OUTPUTS; api and worker
// read db's outputs in every kind of step, each writing what it saw to a scratch file
// saw-STEP. api's health check GETs db's URL, worker's runs a command. staging runs on
// nothing yet, and prod-eu on an agent of pool eu.
const outputsEstate = `project: shop
environments:
  dev: {}
  staging: {}
  prod-eu: {runs_on: eu}
services:
  db:
    deploy: cat "@SCRATCH@/db-outputs" >> "$STRATA_OUTPUTS"
  api:
    depends_on: [db]
    deploy: printf '%s' "${outputs.db.X}" > "@SCRATCH@/saw-deploy-$STRATA_ENV-$STRATA_VERSION"
    health: {http: "${outputs.db.URL}/health/${env.name}", timeout: 10s, interval: 10ms}
    observe: {http: "${outputs.db.URL}/version", timeout: 5s}
    destroy: printf '%s' "${outputs.db.X}" > "@SCRATCH@/saw-destroy"
    runbooks:
      show: printf '%s' "${outputs.db.X}" > "@SCRATCH@/saw-run"
  worker:
    depends_on: [db]
    deploy: "true"
    health:
      command: printf '%s' "${outputs.db.X}" > "@SCRATCH@/saw-health-$STRATA_ENV"
      timeout: 10s
      interval: 10ms
`

// hostileOutput is an output value that would run code, or remove a directory, if a shell
// parsed it as code: command substitutions, backquotes, ; and quotes of both kinds. (An
// output is one line: a newline cannot reach one; layer's tests give a command one.)
const hostileOutput = `$(touch @SCRATCH@/pwned); rm -rf @SCRATCH@/victim; ` + "`touch @SCRATCH@/pwned`" + ` "q" 'q' \n`

// dbServer answers /health/ENV and /version (1 while api@1 runs, as observe reads it),
// and counts the health requests.
type dbServer struct {
	mu     sync.Mutex
	health map[string]int
}

func (s *dbServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/health/"):
		s.health[strings.TrimPrefix(r.URL.Path, "/health/")]++
		w.Write([]byte("ok\n"))
	case r.URL.Path == "/version":
		w.Write([]byte("1\n"))
	default:
		http.NotFound(w, r)
	}
}

func (s *dbServer) healthChecks(env string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health[env]
}

// outputsWorld runs db's server and writes its outputs file (URL, and X the hostile value).
func outputsWorld(t *testing.T) (*world, *dbServer, string) {
	srv := &dbServer{health: map[string]int{}}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	w := newWorld(t, outputsEstate)
	hostile := strings.ReplaceAll(hostileOutput, "@SCRATCH@", w.scratch)
	w.write("db-outputs", "URL="+hs.URL+"\nX="+hostile+"\n")
	if err := os.MkdirAll(filepath.Join(w.scratch, "victim"), 0o755); err != nil {
		t.Fatal(err)
	}
	return w, srv, hostile
}

// sawAsData checks that the step that wrote name saw want byte for byte, and that nothing
// of it ran.
func (w *world) sawAsData(t *testing.T, name, want string) {
	t.Helper()
	if got := w.read(name); got != want {
		t.Errorf("%s: the step saw %q, want %q", name, got, want)
	}
	if _, err := os.Stat(filepath.Join(w.scratch, "pwned")); err == nil {
		t.Errorf("an output value ran as code")
	}
	if _, err := os.Stat(filepath.Join(w.scratch, "victim")); err != nil {
		t.Errorf("an output value ran as code: the victim directory is gone")
	}
}

func TestEveryStepReadsADependencysOutputsAsData(t *testing.T) {
	w, srv, hostile := outputsWorld(t)
	e := w.engine()
	w.ship(e, "db", "1", "dev")
	ship := func(t *testing.T, service, version string) *strata.Deployment {
		t.Helper()
		if _, err := e.Release(t.Context(), service, version); err != nil {
			t.Fatalf("release %s@%s: %v", service, version, err)
		}
		d, err := e.Deploy(t.Context(), engine.DeployRequest{Service: service, Version: version, Env: "dev"})
		if err != nil {
			t.Fatalf("deploy %s@%s to dev: %v", service, version, err)
		}
		return d
	}

	steps := []struct {
		name string
		do   func(t *testing.T)
		saw  string // the scratch file the step writes what it saw to
	}{
		{"a deploy command reads it, and an HTTP health check GETs the dependency's URL", func(t *testing.T) {
			ship(t, "api", "1")
			if n := srv.healthChecks("dev"); n == 0 {
				t.Errorf("api's health check never reached db's URL")
			}
		}, "saw-deploy-dev-1"},
		{"a health command reads it", func(t *testing.T) {
			if d := ship(t, "worker", "1"); d.Health != strata.Healthy {
				t.Errorf("worker: %s, health %q; want healthy", d.State, d.Health)
			}
		}, "saw-health-dev"},
		{"a runbook reads it", func(t *testing.T) {
			if _, err := e.RunTask(t.Context(), engine.RunRequest{Service: "api", Task: "show", Env: "dev"}); err != nil {
				t.Fatal(err)
			}
		}, "saw-run"},
		{"drift's observe reads the dependency's URL", func(t *testing.T) {
			items, err := e.Drift(t.Context(), "dev")
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 0 {
				t.Errorf("drift = %+v, want none (observe reads 1 at db's URL)", items)
			}
		}, "saw-deploy-dev-1"},
		{"a rollback's deploy command reads it", func(t *testing.T) {
			ship(t, "api", "2")
			os.Remove(filepath.Join(w.scratch, "saw-deploy-dev-1"))
			d, err := e.Rollback(t.Context(), "api", "dev", "")
			if err != nil || d.Version != "1" || d.State != strata.Succeeded {
				t.Fatalf("rollback: %+v, %v; want 1 succeeded", d, err)
			}
		}, "saw-deploy-dev-1"},
		{"a resumed deployment's deploy command reads it", func(t *testing.T) {
			os.Remove(filepath.Join(w.scratch, "saw-deploy-dev-2"))
			rel, err := w.store.Release(t.Context(), "api", "2")
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			d := &strata.Deployment{Service: "api", Environment: "dev", Version: "2", ReleaseID: rel.ID, State: strata.Running, Attempt: 1,
				Owner: strata.Owner{Host: "a-host-that-died", PID: 7, Start: 1}, LeaseUntil: now.Add(-time.Second), CreatedAt: now, StartedAt: now}
			if err := w.store.CreateDeployment(t.Context(), d, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Resume(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got, err := w.store.Deployment(t.Context(), d.ID); err != nil || got.State != strata.Succeeded || got.Attempt != 2 {
				t.Fatalf("the resumed deployment: %+v, %v; want succeeded in attempt 2", got, err)
			}
		}, "saw-deploy-dev-2"},
		{"a destroy step reads it", func(t *testing.T) {
			if _, err := e.Destroy(t.Context(), "dev"); err != nil {
				t.Fatal(err)
			}
		}, "saw-destroy"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			w.sawAsData(t, st.saw, hostile)
		})
	}
}

func TestAnAgentsJobReadsADependencysOutputs(t *testing.T) {
	w, srv, hostile := outputsWorld(t)
	keys := t.TempDir()
	deploy := func(t *testing.T, service string) *strata.Deployment {
		t.Helper()
		e := w.engine()
		if _, err := e.Release(t.Context(), service, "1"); err != nil {
			t.Fatal(err)
		}
		type result struct {
			d   *strata.Deployment
			err error
		}
		done := make(chan result, 1)
		go func() {
			d, err := e.Deploy(context.WithoutCancel(t.Context()), engine.DeployRequest{Service: service, Version: "1", Env: "prod-eu"})
			done <- result{d, err}
		}()
		waitUntil(t, "the deployment of "+service+" pending for pool eu", func() bool {
			select {
			case res := <-done:
				t.Fatalf("deploy %s to prod-eu ended before an agent ran it: %+v, %v", service, res.d, res.err)
			default:
			}
			ds, err := w.store.Deployments(t.Context(), strata.DeploymentFilter{Service: service, Environment: "prod-eu", States: []string{strata.Pending}})
			return err == nil && len(ds) > 0
		})
		agentOnce(t, w, "eu-1", keys)
		res := <-done
		if res.err != nil || res.d.State != strata.Succeeded {
			t.Fatalf("deploy %s to prod-eu: %+v, %v; want succeeded", service, res.d, res.err)
		}
		return res.d
	}
	deploy(t, "db")
	tests := []struct {
		name, service, saw string
	}{
		{"its deploy command reads them, and its HTTP health check GETs the dependency's URL", "api", "saw-deploy-prod-eu-1"},
		{"its health command reads them", "worker", "saw-health-prod-eu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deploy(t, tt.service)
			if d.Health != strata.Healthy {
				t.Errorf("%s: health %q, want healthy", tt.service, d.Health)
			}
			w.sawAsData(t, tt.saw, hostile)
		})
	}
	if srv.healthChecks("prod-eu") == 0 {
		t.Errorf("api's health check on the agent never reached db's URL")
	}
}

func TestAStepReadingOutputsOfADependencyNotDeployedThereSaysWhatToDo(t *testing.T) {
	w, _, _ := outputsWorld(t)
	e := w.engine()
	w.ship(e, "db", "1", "dev")
	tests := []struct {
		name string
		do   func() error
	}{
		{"a runbook", func() error {
			_, err := e.RunTask(t.Context(), engine.RunRequest{Service: "api", Task: "show", Env: "staging"})
			return err
		}},
		{"a deploy that skips its gates", func() error {
			if _, err := e.Release(t.Context(), "api", "1"); err != nil {
				t.Fatal(err)
			}
			_, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "1", Env: "staging", SkipPolicy: true})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("err = %v (code %q); want invalid input", err, strata.ErrorCode(err))
			}
			for _, want := range []string{"strata.yaml:", "${outputs.db.", "db has not been deployed to staging", "deploy db to staging first"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v\nwant it to say %q", err, want)
				}
			}
		})
	}
	if ds, _ := w.store.Deployments(t.Context(), strata.DeploymentFilter{Environment: "staging"}); len(ds) != 0 {
		t.Errorf("staging has deployments %+v; want none recorded for a step that cannot resolve", ds)
	}
}

func TestARetiredEnvironmentsDestroyStepReadsWhatItsDependencyWroteThere(t *testing.T) {
	w, _, hostile := outputsWorld(t)
	e := w.engine()
	w.ship(e, "db", "1", "staging")
	w.ship(e, "api", "1", "staging")
	w.writeYAML(strings.Replace(outputsEstate, "  staging: {}\n", "", 1))
	if _, err := w.engine().RetireEnvironment(t.Context(), "staging"); err != nil {
		t.Fatal(err)
	}
	w.sawAsData(t, "saw-destroy", hostile)
}
