package main_test

// End-to-end tests of issue 10 point 7: the config and outputs files a step is given hold
// secrets, so none is left on disk once the strata process that made them has gone, and the
// scratch directories of strata processes that died are cleared by the next one.

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-dev/strata/step"
)

// scratchSecretEstate's step is given the secret TOKEN (from the variable E2E_SCRATCH_TOKEN)
// in its environment and its config file, says where its scratch files are, notes whether the
// config file held the secret, and writes the secret to its outputs.
const scratchSecretEstate = `project: scratch
environments:
  dev: {}
services:
  app:
    deploy: |
      echo "$STRATA_OUTPUTS" > "@SCRATCH@/outputs-path"
      if grep -qF -- "$TOKEN" "$STRATA_CONFIG"; then touch "@SCRATCH@/config-held-it"; fi
      echo "TOKEN=$TOKEN" >> "$STRATA_OUTPUTS"
      echo "PLAIN=$TOKEN" >> "$STRATA_OUTPUTS"
    config:
      TOKEN: {type: string, secret: true, from: "env:E2E_SCRATCH_TOKEN"}
`

// scratchRoot gives e's strata processes a tmpfs root of their own ($XDG_RUNTIME_DIR), so
// the test sees every scratch file they make, and returns it.
func scratchRoot(e *estate) string {
	root := e.t.TempDir()
	e.env = append(e.env, "XDG_RUNTIME_DIR="+root)
	return root
}

// filesHolding returns the files under dir whose content holds s.
func filesHolding(t *testing.T, dir, s string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestNoSecretAStepWasGivenOrWroteIsLeftOnDiskAfterTheDeployment(t *testing.T) {
	e := newEstate(t, scratchSecretEstate)
	root := scratchRoot(e)
	// Shell syntax in the value must be passed on as text, never run.
	token := randomValue(t, "scratch-token-") + "$(touch pwned);`touch pwned`"
	e.env = append(e.env, "E2E_SCRATCH_TOKEN="+token)
	e.release("app", "--version", "1")
	d := e.deploy(0, "app@1", "--env", "dev")
	if d.State != "succeeded" {
		t.Fatalf("deployment state: got %q, want succeeded", d.State)
	}

	// The test means something only if the secret went through a file under root.
	outputs := strings.TrimSpace(e.read("outputs-path"))
	if !strings.HasPrefix(outputs, root+string(filepath.Separator)) {
		t.Fatalf("the step's outputs file is %q, want one under the scratch root %s", outputs, root)
	}
	if _, err := os.Stat(e.path("config-held-it")); err != nil {
		t.Fatalf("the step's config file did not hold the secret: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "pwned")); err == nil {
		t.Error("shell syntax in the secret was run")
	}
	for _, dir := range []string{root, e.dir} {
		if got := filesHolding(t, dir, token); len(got) != 0 {
			t.Errorf("files hold the secret after the deployment: %v", got)
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		t.Errorf("the scratch root still holds %s after strata exited", ent.Name())
	}
}

func TestTheNextCommandClearsTheScratchDirectoriesOfDeadProcessesOnly(t *testing.T) {
	e := newEstate(t, scratchSecretEstate)
	root := scratchRoot(e)
	e.env = append(e.env, "E2E_SCRATCH_TOKEN=x")
	e.release("app", "--version", "1") // a store, so that status opens it

	me := os.Getpid()
	myStart, err := step.StartTime(me)
	if err != nil {
		t.Fatal(err)
	}
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	dead := exited.Process.Pid
	owner := func(pid int, start int64) string {
		return strconv.Itoa(pid) + "-" + strconv.FormatInt(start, 10)
	}
	stateRun := filepath.Join(e.dir, ".strata", "run")
	tests := []struct {
		name    string
		dir     string
		cleared bool
	}{
		{"a directory of a process that exited is cleared", filepath.Join(root, "strata-"+owner(dead, 1)), true},
		{"a directory of a pid now reused by another process is cleared", filepath.Join(root, "strata-"+owner(me, myStart+1)), true},
		{"a directory of a running process is kept", filepath.Join(root, "strata-"+owner(me, myStart)), false},
		{"a directory under the state directory of a process that exited is cleared", filepath.Join(stateRun, owner(dead, 1)), true},
		{"a directory under the state directory of a running process is kept", filepath.Join(stateRun, owner(me, myStart)), false},
		{"a directory whose owner cannot be told is kept", filepath.Join(root, "strata-0123456789ab"), false},
		{"a directory of another program is kept", filepath.Join(root, "strata-cache"), false},
	}
	for _, tc := range tests {
		if err := os.MkdirAll(filepath.Join(tc.dir, "app"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tc.dir, "app", "dev.outputs"), []byte("TOKEN=secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	e.must(0, "status")

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := os.Stat(tc.dir)
			got, want := err == nil, !tc.cleared
			if got != want {
				t.Errorf("%s exists: got %v, want %v (stat: %v)", tc.dir, got, want, err)
			}
		})
	}
}
