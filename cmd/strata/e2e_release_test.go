package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// releaseEstate builds app from the scratch file "content" (so a test can change the bytes),
// counts its builds in the scratch file "builds", and records what each deploy saw.
const releaseEstate = `project: rel
environments:
  dev: {labels: {tier: dev}}
  staging: {labels: {tier: staging}}
  prod: {labels: {tier: prod}}
services:
  app:
    build: echo built >> @SCRATCH@/builds; cp @SCRATCH@/content "$STRATA_ARTIFACTS/app.txt"
    deploy: echo "$STRATA_ENV $STRATA_DIGEST $STRATA_ARTIFACTS $(cat "$STRATA_ARTIFACTS/app.txt")" >> @SCRATCH@/deploys
  broken:
    build: echo compiling; exit 7
    deploy: echo should not run >> @SCRATCH@/broken
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

func TestReleaseBuildsOnceAndEveryEnvironmentGetsTheSameBytes(t *testing.T) {
	t.Parallel()
	e := newEstate(t, releaseEstate)
	os.WriteFile(e.path("content"), []byte("v1 bytes\n"), 0o644)

	rel := e.release("app", "--version", "1.0")
	e.deploy(0, "app@1.0", "--env", "prod")

	if got := strings.Count(e.read("builds"), "built"); got != 1 {
		t.Errorf("build ran %d times for 3 environments, want 1", got)
	}
	lines := strings.Split(strings.TrimSpace(e.read("deploys")), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 deploys (dev, staging by auto stages, prod by hand), got %q", lines)
	}
	hex := strings.TrimPrefix(rel.Digest, "sha256:")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hex) {
		t.Fatalf("digest %q is not sha256:<64 hex>", rel.Digest)
	}
	for i, env := range []string{"dev", "staging", "prod"} {
		f := strings.Fields(lines[i])
		if len(f) != 5 {
			t.Fatalf("deploy line %q: want env, digest, artifacts and content", lines[i])
		}
		if f[0] != env || f[1] != rel.Digest || filepath.Base(f[2]) != hex || f[3]+" "+f[4] != "v1 bytes" {
			t.Errorf("deploy %d saw %q; want %s with digest %s, artifacts in a directory named %s, content \"v1 bytes\"", i, lines[i], env, rel.Digest, hex)
		}
	}
}

func TestReleaseArtifactsAreContentAddressed(t *testing.T) {
	t.Parallel()
	e := newEstate(t, releaseEstate)
	os.WriteFile(e.path("content"), []byte("same\n"), 0o644)

	a := e.release("app", "--version", "1")
	b := e.release("app", "--version", "2")
	if a.Digest != b.Digest || a.ID == b.ID {
		t.Errorf("the same bytes under two versions: got digests %s and %s (ids %s, %s); want one digest, two releases", a.Digest, b.Digest, a.ID, b.ID)
	}

	t.Run("the same version with other bytes is refused and nothing is recorded", func(t *testing.T) {
		e := e.with(t)
		before := e.must(0, "audit", "-o", "json").stdout
		deploysBefore := e.read("deploys")
		os.WriteFile(e.path("content"), []byte("other\n"), 0o644)
		r := e.must(2, "release", "app", "--version", "1")
		if !strings.Contains(r.stderr, "app@1") || !strings.Contains(r.stderr, "exists") {
			t.Errorf("the refusal should name app@1 and say it exists:\n%s", r)
		}
		if after := e.must(0, "audit", "-o", "json").stdout; after != before {
			t.Errorf("a refused release changed the audit log")
		}
		if e.read("deploys") != deploysBefore {
			t.Errorf("a refused release deployed something")
		}
		d := e.deploy(0, "app@1", "--env", "prod")
		if got := e.read("deploys"); !strings.HasSuffix(got, "same\n") {
			t.Errorf("app@1 in prod (%s) should still carry the first bytes; deploys:\n%s", d.ID, got)
		}
	})

	t.Run("the same version with the same bytes is reused", func(t *testing.T) {
		e := e.with(t)
		os.WriteFile(e.path("content"), []byte("same\n"), 0o644)
		again := e.release("app", "--version", "1")
		if !again.Reused || again.ID != a.ID || again.Digest != a.Digest {
			t.Errorf("release app@1 again with the same bytes: got id %s digest %s reused %v; want id %s, reused", again.ID, again.Digest, again.Reused, a.ID)
		}
	})
}

func TestAFailingBuildRecordsNoRelease(t *testing.T) {
	t.Parallel()
	e := newEstate(t, releaseEstate)
	r := e.must(1, "release", "broken", "--version", "1")
	if !strings.Contains(r.stderr, "compiling") {
		t.Errorf("the build's output should reach the terminal:\n%s", r)
	}
	if ds := e.history(); len(ds) != 0 {
		t.Errorf("history after a failed build: got %d deployments, want none", len(ds))
	}
	var st struct {
		Cells []struct{ Service, Environment, Version, State string }
	}
	jsonDoc(t, e.must(0, "status", "-o", "json"), &st)
	for _, c := range st.Cells {
		if c.Version != "" || c.State != "" {
			t.Errorf("status after a failed build shows %+v", c)
		}
	}
	d := e.must(2, "deploy", "broken@1", "--env", "dev")
	if !strings.Contains(d.stderr, `"1"`) || !strings.Contains(d.stderr, "no release") {
		t.Errorf("deploying the version that failed to build should say there is no such release:\n%s", d)
	}
	if e.read("broken") != "" {
		t.Errorf("a deploy step ran for a failed build")
	}
}

func TestAReleaseLandsInTheAutoStagesInOrder(t *testing.T) {
	t.Parallel()
	e := newEstate(t, releaseEstate)
	os.WriteFile(e.path("content"), []byte("x\n"), 0o644)
	rel := e.release("app", "--version", "7")

	var envs []string
	for _, d := range rel.Deployments {
		envs = append(envs, d.Environment+":"+d.State)
	}
	if strings.Join(envs, " ") != "dev:succeeded staging:succeeded" {
		t.Errorf("release deployments: got %v, want dev then staging, both succeeded (prod is not auto)", envs)
	}
	ds := e.history("app")
	if len(ds) != 2 {
		t.Fatalf("history: want 2 deployments, got %d", len(ds))
	}
	stg, dev := ds[0], ds[1] // newest first
	if dev.Environment != "dev" || stg.Environment != "staging" {
		t.Fatalf("history newest first: got %s then %s, want staging then dev", stg.Environment, dev.Environment)
	}
	if dev.FinishedAt == nil || stg.StartedAt == nil || stg.StartedAt.Before(*dev.FinishedAt) {
		t.Errorf("staging started %v, before dev finished %v", stg.StartedAt, dev.FinishedAt)
	}
}

func TestTheDefaultVersion(t *testing.T) {
	t.Parallel()
	t.Run("is git describe in a git repository", func(t *testing.T) {
		if _, err := exec.LookPath("git"); err != nil {
			t.Skip("no git")
		}
		e := newEstate(t, releaseEstate)
		os.WriteFile(e.path("content"), []byte("x\n"), 0o644)
		e.write(".gitignore", ".strata/\n")
		git := func(args ...string) string {
			t.Helper()
			cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
			cmd.Dir = e.dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
			return strings.TrimSpace(string(out))
		}
		git("init", "-q")
		git("add", ".")
		git("commit", "-q", "-m", "first")
		git("tag", "-a", "v0.3.1", "-m", "v0.3.1")
		want := git("describe", "--always", "--dirty")
		head := git("rev-parse", "HEAD")
		rel := e.release("app")
		if rel.Version != want || want != "v0.3.1" {
			t.Errorf("version: got %q, want git describe's %q (v0.3.1)", rel.Version, want)
		}
		if rel.Commit != head {
			t.Errorf("commit: got %q, want %q", rel.Commit, head)
		}
	})
	t.Run("is a timestamp outside git", func(t *testing.T) {
		e := newEstate(t, releaseEstate)
		os.WriteFile(e.path("content"), []byte("x\n"), 0o644)
		rel := e.release("app")
		if !regexp.MustCompile(`^20\d{6}\.\d{6}$`).MatchString(rel.Version) {
			t.Errorf("version outside git: got %q, want a UTC timestamp like 20261123.191500", rel.Version)
		}
	})
}

func TestAReleaseUnhealthyInDevNeverLandsInStaging(t *testing.T) {
	t.Parallel()
	e := newEstate(t, `project: rel
environments:
  dev: {}
  staging: {}
services:
  app:
    deploy: echo "$STRATA_ENV" >> @SCRATCH@/deploys
    health: {command: 'test "$STRATA_ENV" != dev', timeout: 1s}
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: staging
    environments: [staging]
    auto: true
`)
	r := e.must(1, "release", "app", "--version", "1")
	if got := e.read("deploys"); got != "dev\n" {
		t.Errorf("the step ran in %q, want dev only: staging must wait for a healthy dev\n%s", got, r)
	}
	ds := e.history("app")
	if len(ds) != 1 || ds[0].Environment != "dev" || ds[0].State != "failed" {
		t.Errorf("history: got %+v, want one failed deployment in dev", ds)
	}
}

func TestArtifactsChangedAfterTheBuildAreNeverDeployed(t *testing.T) {
	t.Parallel()
	e := newEstate(t, releaseEstate)
	os.WriteFile(e.path("content"), []byte("built bytes\n"), 0o644)
	rel := e.release("app", "--version", "1")
	file := filepath.Join(e.dir, ".strata", "artifacts", strings.TrimPrefix(rel.Digest, "sha256:"), "app.txt")
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := e.read("deploys")
	r := e.must(1, "deploy", "app@1", "--env", "prod")
	if !strings.Contains(r.stderr, "were changed after the build") {
		t.Errorf("the deploy should say the artifacts changed:\n%s", r)
	}
	if e.read("deploys") != before {
		t.Errorf("a deploy step ran with changed artifacts:\n%s", e.read("deploys"))
	}
}
