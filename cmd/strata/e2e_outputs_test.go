package main_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// outputsE2EEstate: db's deploy step writes the scratch file db-outputs to $STRATA_OUTPUTS
// (URL, a server the test runs, and X, a hostile value); api's health URL is db's URL, and
// its deploy step and runbook write what ${outputs.db.X} gave them to scratch files.
const outputsE2EEstate = `project: outputs
environments:
  dev: {}
  staging: {}
services:
  db:
    deploy: cat "@SCRATCH@/db-outputs" >> "$STRATA_OUTPUTS"
  api:
    depends_on: [db]
    deploy: printf '%s' "${outputs.db.X}" > "@SCRATCH@/saw-deploy"
    health: {http: "${outputs.db.URL}/health", timeout: 10s, interval: 50ms}
    runbooks:
      show: printf '%s' "${outputs.db.X}" > "@SCRATCH@/saw-run"
`

func TestADependentsStepsReadItsDependencysOutputs(t *testing.T) {
	t.Parallel()
	var checks atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		checks.Add(1)
		w.Write([]byte("ok\n"))
	}))
	t.Cleanup(srv.Close)
	e := newEstate(t, outputsE2EEstate)
	hostile := "$(touch " + e.path("pwned") + "); rm -rf " + e.path("victim") + "; `touch " + e.path("pwned") + "` \"q\" 'q'"
	if err := os.WriteFile(e.path("db-outputs"), []byte("URL="+srv.URL+"\nX="+hostile+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.path("victim"), 0o755); err != nil {
		t.Fatal(err)
	}
	asData := func(t *testing.T, name string) {
		t.Helper()
		if got := e.read(name); got != hostile {
			t.Errorf("%s: the step saw %q, want %q", name, got, hostile)
		}
		if _, err := os.Stat(e.path("pwned")); err == nil {
			t.Errorf("db's output ran as code")
		}
		if _, err := os.Stat(e.path("victim")); err != nil {
			t.Errorf("db's output ran as code: the victim directory is gone")
		}
	}
	e.release("db", "--version", "1")
	e.release("api", "--version", "1")
	if d := e.deploy(0, "db@1", "--env", "dev"); d.State != "succeeded" {
		t.Fatalf("db: %s, want succeeded", d.State)
	}

	t.Run("api's health URL is db's, and its deploy step reads db's output as data", func(t *testing.T) {
		e := e.with(t)
		if d := e.deploy(0, "api@1", "--env", "dev"); d.State != "succeeded" {
			t.Fatalf("api: %s, want succeeded", d.State)
		}
		if checks.Load() == 0 {
			t.Errorf("api's health check never reached db's URL")
		}
		asData(t, "saw-deploy")
	})
	t.Run("a runbook reads db's output as data", func(t *testing.T) {
		e.with(t).must(0, "run", "api", "show", "--env", "dev")
		asData(t, "saw-run")
	})
	t.Run("where db has not been deployed, a runbook reading its output is bad input saying what to do", func(t *testing.T) {
		r := e.with(t).must(2, "run", "api", "show", "--env", "staging")
		for _, want := range []string{"strata.yaml:", "${outputs.db.X}", "db has not been deployed to staging", "`strata deploy db --env staging`"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, r)
			}
		}
	})
}
