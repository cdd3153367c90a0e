package engine_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// A deploy step that cannot be started at all (its scratch file cannot be written: a full or
// broken disk) ends the deployment as failed. Left running, it would be held by a live owner
// for as long as the process lives: a server would never let resume take it.
func TestADeploymentWhoseStepCannotStartIsRecordedFailedNotLeftRunning(t *testing.T) {
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime) // where the scratch files go, so the test can break them
	w := newWorld(t, `project: strand
environments:
  prod: {}
services:
  api:
    deploy: "true"
`)
	e := w.engine()
	w.ship(e, "api", "1", "prod")
	// The config file's place now holds a directory: the next write of it fails.
	var cfg string
	filepath.WalkDir(runtime, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "prod.config.json" {
			cfg = path
		}
		return nil
	})
	if cfg == "" {
		t.Fatal("no scratch config file of api in prod was written")
	}
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Release(t.Context(), "api", "2"); err != nil {
		t.Fatal(err)
	}
	d, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "2", Env: "prod"})
	if strata.ErrorCode(err) != strata.EFAILED || d == nil || d.State == strata.Running {
		t.Fatalf("deploy returned %+v, %v; want the deployment ended, EFAILED", d, err)
	}
	stored, err := w.store.Deployment(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strata.Active(stored.State) || !strings.Contains(stored.Error, "prod.config.json") {
		t.Errorf("stored %s with error %q; want it ended, saying which file could not be written", stored.State, stored.Error)
	}
	active, err := w.store.Deployments(t.Context(), strata.DeploymentFilter{States: []string{strata.Pending, strata.Running, strata.Interrupted}})
	if err != nil || len(active) != 0 {
		t.Errorf("active deployments %v (%v); want none left holding prod", active, err)
	}
}
