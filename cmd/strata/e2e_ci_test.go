package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ciEstate is the project the CI recipe (examples/ci) releases to: web lands in dev and
// staging by itself; prod waits for an approval. Its deploy step fails for a version whose
// scratch file fail-VERSION exists, and records what it deployed from which artifact.
const ciEstate = `project: ci
environments:
  dev: {labels: {tier: dev}}
  staging: {labels: {tier: staging}}
  prod: {labels: {tier: prod}, policy: {approvals: 1}}
services:
  web:
    deploy: ./deploy/web.sh
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: staging
    environments: [staging]
    auto: true
  - stage: prod
    environments: [prod]
`

// recipe runs examples/ci/release.sh in e's project, as a CI job would, with strata on PATH
// and the job's variables; it returns the script's exit status, its output and the summary.
func recipe(t *testing.T, e *estate, vars ...string) (code int, out, summary string) {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(here), "..", "..", "examples", "ci", "release.sh")
	sum := filepath.Join(t.TempDir(), "summary.md")
	cmd := exec.Command("/bin/sh", script)
	cmd.Dir = e.dir
	cmd.Env = append(append(e.env, "PATH="+filepath.Dir(strataBin)+":"+os.Getenv("PATH"), "SUMMARY="+sum), vars...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if x, ok := err.(*exec.ExitError); ok {
		code = x.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	s, _ := os.ReadFile(sum)
	return code, b.String(), string(s)
}

func TestTheCIRecipeReleasesThroughAServerAndFailsTheJobOnAClosedGate(t *testing.T) {
	t.Parallel()
	e := newEstate(t, ciEstate)
	e.write("deploy/web.sh", "#!/bin/sh\ntest ! -e "+e.scratch+"/fail-$STRATA_VERSION || exit 7\necho \"$STRATA_VERSION $STRATA_ENV $(cat \"$STRATA_ARTIFACTS/web\")\" >> "+e.scratch+"/deployed\n")
	if err := os.Chmod(filepath.Join(e.dir, "deploy/web.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	url := serve(t, e)
	ci := createToken(t, e, "ci", "--role", "deployer", "--envs", "tier=dev", "--envs", "tier=staging").Token
	release := createToken(t, e, "release-manager", "--role", "deployer").Token
	build := func(version string) string {
		dist := filepath.Join(t.TempDir(), "dist")
		if err := os.MkdirAll(dist, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dist, "web"), []byte("web-binary-"+version), 0o644); err != nil {
			t.Fatal(err)
		}
		return dist
	}
	job := func(token, version string, more ...string) []string {
		return append([]string{"STRATA_SERVER=" + url, "STRATA_TOKEN=" + token, "SERVICE=web", "VERSION=" + version, "ARTIFACT=" + build(version)}, more...)
	}

	t.Run("a release lands in the auto stages and the summary says it is done", func(t *testing.T) {
		code, out, sum := recipe(t, e, job(ci, "1.0.0")...)
		if code != 0 {
			t.Fatalf("the recipe exited %d:\n%s", code, out)
		}
		if got, want := e.read("deployed"), "1.0.0 dev web-binary-1.0.0\n1.0.0 staging web-binary-1.0.0\n"; got != want {
			t.Errorf("deployed %q, want %q", got, want)
		}
		for _, want := range []string{"### `strata release web --artifact", "**Done** (exit 0)", "1.0.0"} {
			if !strings.Contains(sum, want) {
				t.Errorf("the summary lacks %q:\n%s", want, sum)
			}
		}
		if strings.Contains(sum, ci) {
			t.Errorf("the summary holds the token:\n%s", sum)
		}
	})

	t.Run("a failed deployment fails the job and the summary says what failed", func(t *testing.T) {
		if err := os.WriteFile(e.path("fail-1.1.0"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, sum := recipe(t, e, job(ci, "1.1.0")...)
		if code != 1 {
			t.Fatalf("the recipe exited %d, want 1:\n%s", code, out)
		}
		for _, want := range []string{"**Failed** (exit 1)", "status 7"} {
			if !strings.Contains(sum, want) {
				t.Errorf("the summary lacks %q:\n%s", want, sum)
			}
		}
	})

	t.Run("a promotion that waits for an approval fails the job with the gate's text", func(t *testing.T) {
		code, out, sum := recipe(t, e, job(release, "1.2.0", "PROMOTE_TO=prod")...)
		if code != 3 {
			t.Fatalf("the recipe exited %d, want 3:\n%s", code, out)
		}
		for _, want := range []string{"### `strata release web --artifact", "### `strata promote web@1.2.0 --to prod`", "**Blocked by a gate** (exit 3)", "approval"} {
			if !strings.Contains(sum, want) {
				t.Errorf("the summary lacks %q:\n%s", want, sum)
			}
		}
	})

	t.Run("a token that does not cover the stage is not allowed, and the summary says so", func(t *testing.T) {
		code, out, sum := recipe(t, e, job(ci, "1.3.0", "PROMOTE_TO=prod")...)
		if code != 4 || !strings.Contains(sum, "**Not allowed** (exit 4)") {
			t.Fatalf("the recipe exited %d, want 4, summary:\n%s\noutput:\n%s", code, sum, out)
		}
	})
}

func TestSummary(t *testing.T) {
	t.Parallel()
	e := newEstate(t, ciEstate)
	e.write("deploy/web.sh", "#!/bin/sh\ntrue\n")
	if err := os.Chmod(filepath.Join(e.dir, "deploy/web.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.release("web", "--version", "1.0.0")

	t.Run("a summary file that cannot be written is bad input and nothing runs", func(t *testing.T) {
		r := e.with(t).must(2, "freeze", "dev", "--reason", "x", "--summary", filepath.Join(e.scratch, "no-such-dir", "s.md"))
		if !strings.Contains(r.stderr, "--summary") {
			t.Errorf("the error does not name --summary:\n%s", r)
		}
		if out := e.with(t).must(0, "status").stdout; strings.Contains(out, "frozen") {
			t.Errorf("dev was frozen although the command was refused:\n%s", out)
		}
	})

	t.Run("a hostile reason stays text: it cannot end the code block or make HTML", func(t *testing.T) {
		sum := filepath.Join(e.scratch, "hostile.md")
		reason := "```\n<script>alert(1)</script>\n# heading"
		e.with(t).must(0, "freeze", "dev", "--reason", reason, "--summary", sum)
		e.with(t).must(3, "deploy", "web", "--env", "dev", "--summary", sum)
		b, _ := os.ReadFile(sum)
		s := string(b)
		if !strings.Contains(s, "**Blocked by a gate** (exit 3)") {
			t.Fatalf("the summary lacks the blocked deploy:\n%s", s)
		}
		// Every line that came from the reason is inside a fence longer than its backticks,
		// or in the heading's code span, which holds no backtick of its own.
		inFence := ""
		for _, line := range strings.Split(s, "\n") {
			switch {
			case inFence == "" && strings.HasPrefix(line, "### `"):
				if span := strings.TrimSuffix(strings.TrimPrefix(line, "### `"), "`"); strings.Contains(span, "`") {
					t.Errorf("the heading's code span can be ended early: %q", line)
				}
			case inFence == "" && strings.HasPrefix(line, "```"):
				inFence = strings.TrimSuffix(line, "text")
			case inFence != "" && line == inFence:
				inFence = ""
			case inFence == "" && (strings.Contains(line, "<script>") || line == "# heading"):
				t.Errorf("line %q of the reason is outside a code block:\n%s", line, s)
			}
		}
	})

	t.Run("a token made with a summary is not kept in it", func(t *testing.T) {
		sum := filepath.Join(e.scratch, "token.md")
		r := e.with(t).must(0, "token", "create", "bot", "--role", "viewer", "--summary", sum)
		b, _ := os.ReadFile(sum)
		tok := strings.TrimSpace(r.stdout)
		if i := strings.Index(tok, "strata_"); i >= 0 {
			tok = strings.Fields(tok[i:])[0]
		}
		if !strings.Contains(string(b), "Output not kept") || strings.Contains(string(b), tok) {
			t.Errorf("the summary holds the token or does not say it was left out:\n%s", b)
		}
	})
}
