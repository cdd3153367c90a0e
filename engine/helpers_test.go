package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/sqlite"
)

// world is a project directory with a real SQLite store, and a scratch directory that steps
// write to.
type world struct {
	t       *testing.T
	dir     string
	scratch string
	store   strata.Store
}

// newWorld writes yaml (with @SCRATCH@ replaced) as strata.yaml and opens a store for it.
func newWorld(t *testing.T, yaml string) *world {
	t.Helper()
	root := t.TempDir()
	w := &world{t: t, dir: filepath.Join(root, "project"), scratch: filepath.Join(root, "scratch")}
	for _, d := range []string{w.dir, w.scratch} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w.writeYAML(yaml)
	s, err := sqlite.Open(filepath.Join(w.dir, ".strata", "state.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w.store = s
	return w
}

// writeYAML replaces strata.yaml.
func (w *world) writeYAML(yaml string) {
	w.t.Helper()
	yaml = strings.ReplaceAll(yaml, "@SCRATCH@", w.scratch)
	if err := os.WriteFile(filepath.Join(w.dir, "strata.yaml"), []byte(yaml), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// engine loads the project as it is now, with the short-lived environments of the store,
// and returns an engine on the shared store.
func (w *world) engine() *engine.Engine {
	w.t.Helper()
	p, _, err := config.Load(w.dir)
	if err != nil {
		w.t.Fatal(err)
	}
	skipped, err := engine.LoadEnvironments(w.t.Context(), p, w.store)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, s := range skipped {
		w.t.Log(s)
	}
	e := engine.New(p, w.store, "tester")
	e.StateDir = filepath.Join(w.dir, ".strata")
	if testing.Verbose() {
		e.Log = os.Stderr
	}
	return e
}

// read returns a scratch file's content ("" when absent).
func (w *world) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(w.scratch, name))
	return string(b)
}

// write writes a scratch file.
func (w *world) write(name, content string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.scratch, name), []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// ship releases service at version and deploys it to env, failing the test on error.
func (w *world) ship(e *engine.Engine, service, version, env string) *strata.Deployment {
	w.t.Helper()
	if _, err := e.Store.Release(w.t.Context(), service, version); err != nil {
		if _, err := e.Release(w.t.Context(), service, version); err != nil {
			w.t.Fatalf("release %s@%s: %v", service, version, err)
		}
	}
	d, err := e.Deploy(w.t.Context(), engine.DeployRequest{Service: service, Version: version, Env: env})
	if err != nil {
		w.t.Fatalf("deploy %s@%s to %s: %v", service, version, env, err)
	}
	return d
}

// waitUntil polls cond until it holds, failing t after a minute: a bound for a hung test, not
// a measure of speed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}
