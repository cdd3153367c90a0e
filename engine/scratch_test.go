package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// scratchEstate's step writes an output only while @SCRATCH@/emit exists, and copies the
// config file it was given.
const scratchEstate = `project: scratch
environments:
  a: {}
services:
  app:
    deploy: |
      if [ -f "@SCRATCH@/emit" ]; then echo "KEY=v$STRATA_VERSION" >> "$STRATA_OUTPUTS"; fi
      echo "$STRATA_CONFIG" > "@SCRATCH@/config-path"
      cp "$STRATA_CONFIG" "@SCRATCH@/config"
    config:
      PORT: {type: integer, default: 8080}
`

func TestAnEarlierDeploymentsOutputsNeverReachALaterOne(t *testing.T) {
	w := newWorld(t, scratchEstate)
	e := w.engine()
	w.write("emit", "")
	if d := w.ship(e, "app", "1", "a"); d.Outputs["KEY"] != "v1" {
		t.Fatalf("first deployment's outputs = %v, want KEY=v1", d.Outputs)
	}
	os.Remove(filepath.Join(w.scratch, "emit"))
	if d := w.ship(e, "app", "2", "a"); len(d.Outputs) != 0 {
		t.Fatalf("a step that wrote no outputs got %v, left by the deployment before it", d.Outputs)
	}
}

func TestStepsGetTheirConfigFileAgainAfterTheScratchDirectoryWasRemoved(t *testing.T) {
	w := newWorld(t, scratchEstate)
	e := w.engine()
	w.ship(e, "app", "1", "a")
	path := strings.TrimSpace(w.read("config-path"))
	if path == "" {
		t.Fatal("the step was given no config file")
	}
	// What a cleaned tmpfs looks like: the project's scratch directory is gone.
	if err := os.RemoveAll(filepath.Dir(filepath.Dir(path))); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(w.scratch, "config"))
	w.ship(e, "app", "2", "a")
	if got := w.read("config"); !strings.Contains(got, `"PORT"`) {
		t.Fatalf("the second step's config file held %q, want the resolved config", got)
	}
	if info, err := os.Stat(filepath.Dir(filepath.Dir(path))); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("the scratch directory made again: %v, %v; want mode 0700", info, err)
	}
}

func TestAStepThatFloodsItsOutputsFileFailsSayingWhy(t *testing.T) {
	w := newWorld(t, `project: flood
environments:
  a: {}
services:
  app:
    deploy: |
      printf 'URL=http://a\n' >> "$STRATA_OUTPUTS"
      if [ "$STRATA_VERSION" = 2 ]; then head -c 70000 /dev/zero | tr '\0' x >> "$STRATA_OUTPUTS"; fi
`)
	e := w.engine()
	if d := w.ship(e, "app", "1", "a"); d.Outputs["URL"] != "http://a" {
		t.Fatalf("outputs under the bound = %v, want URL=http://a", d.Outputs)
	}
	if _, err := e.Release(t.Context(), "app", "2"); err != nil {
		t.Fatal(err)
	}
	d, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "app", Version: "2", Env: "a"})
	if err == nil || d == nil || d.State != strata.Failed {
		t.Fatalf("deploy of a step writing 70 KB of outputs = %v, %v; want a failed deployment", d, err)
	}
	if !strings.Contains(d.Error, "more than 64 KiB to $STRATA_OUTPUTS") || len(d.Outputs) != 0 {
		t.Errorf("the failure reads %q with outputs %d keys; want it to name the bound and keep none", d.Error, len(d.Outputs))
	}
}
