package main_test

import (
	"archive/tar"
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bundleEstate deploys web with ./deploy/web.sh, which a test rewrites between releases: each
// version of the script appends its own tag to the scratch file "runs". check.sh fails for a
// version whose scratch file sick-VERSION exists.
const bundleEstate = `project: bundle
environments:
  dev: {labels: {tier: dev}}
  prod: {labels: {tier: prod}}
services:
  web:
    build: echo built >> @SCRATCH@/builds; echo bin > "$STRATA_ARTIFACTS/web"
    deploy: ./deploy/web.sh
    health: {command: ./deploy/check.sh, timeout: 1s, interval: 100ms}
    rollback: previous
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: prod
    environments: [prod]
`

// writeScript writes deploy/web.sh tagged tag, and deploy/check.sh. When the scratch file
// "hold" exists, the script's first attempt sleeps with the marked sleep (for a crash).
func writeScript(e *estate, tag, sleep string) {
	e.t.Helper()
	if sleep == "" {
		sleep = "sleep"
	}
	e.write("deploy/web.sh", strings.NewReplacer("@S@", e.scratch, "@TAG@", tag, "@SLEEP@", sleep).Replace(`#!/bin/sh
echo "@TAG@ $STRATA_VERSION $STRATA_ENV $STRATA_ATTEMPT" >> @S@/runs
if [ -e @S@/hold ] && [ "$STRATA_ATTEMPT" = 1 ]; then touch @S@/holding; @SLEEP@ 60; fi
`))
	e.write("deploy/check.sh", "#!/bin/sh\ntest ! -e "+e.scratch+"/sick-$STRATA_VERSION\n")
	for _, f := range []string{"deploy/web.sh", "deploy/check.sh"} {
		if err := os.Chmod(filepath.Join(e.dir, f), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
}

// runs returns the lines the scripts appended to "runs" since the count before.
func (e *estate) runsSince(before int) []string {
	lines := strings.Split(strings.TrimSpace(e.read("runs")), "\n")
	if e.read("runs") == "" {
		lines = nil
	}
	if before > len(lines) {
		return nil
	}
	return lines[before:]
}

func (e *estate) runCount() int { return len(e.runsSince(0)) }

func TestAReleaseRunsTheScriptsItWasMadeWith(t *testing.T) {
	e := newEstate(t, bundleEstate)
	sleep, marker := e.markerSleep()
	killMarked(t, marker)
	writeScript(e, "one", sleep)
	one := e.release("web", "--version", "1.0.0")
	if !strings.HasPrefix(one.Bundle, "sha256:") || !strings.HasPrefix(one.Recipe, "sha256:") {
		t.Fatalf("release 1.0.0 has bundle %q and recipe %q, want sha256 digests", one.Bundle, one.Recipe)
	}
	writeScript(e, "two", sleep) // edited after the release

	cases := []struct {
		name string
		args []string
		want []string // the lines the scripts append
	}{
		{"deploy runs the released script, not the edit", []string{"deploy", "web@1.0.0", "--env", "prod"}, []string{"one 1.0.0 prod 1"}},
		{"the next release picks the edit up", []string{"release", "web", "--version", "2.0.0"}, []string{"two 2.0.0 dev 1"}},
		{"deploying the next release runs the edit", []string{"deploy", "web@2.0.0", "--env", "prod"}, []string{"two 2.0.0 prod 1"}},
		{"rollback runs the script of the release it returns to", []string{"rollback", "web", "--env", "prod"}, []string{"one 1.0.0 prod 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			before := e.runCount()
			e.must(0, c.args...)
			if got := e.runsSince(before); strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("%v ran %q, want %q", c.args, got, c.want)
			}
		})
	}

	t.Run("a rollback on failed health runs the previous release's script", func(t *testing.T) {
		e := e.with(t)
		writeScript(e, "three", sleep)
		e.release("web", "--version", "3.0.0")
		os.WriteFile(e.path("sick-3.0.0"), nil, 0o644)
		before := e.runCount()
		e.must(1, "deploy", "web@3.0.0", "--env", "prod")
		got, want := e.runsSince(before), []string{"three 3.0.0 prod 1", "one 1.0.0 prod 1"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("the failed deploy and its rollback ran %q, want %q", got, want)
		}
	})

	t.Run("resume runs the released script after a crash", func(t *testing.T) {
		e := e.with(t)
		os.WriteFile(e.path("hold"), nil, 0o644)
		dead := e.start("deploy", "web@2.0.0", "--env", "prod")
		waitFor(t, 20*time.Second, "the deploy step to hold", func() bool { _, err := os.Stat(e.path("holding")); return err == nil })
		waitFor(t, 10*time.Second, "the step's process group to be recorded", func() bool {
			return strings.Contains(e.run("history", "web", "--env", "prod").stdout, "running")
		})
		dead.cmd.Process.Kill()
		dead.wait(t, 10*time.Second)
		writeScript(e, "four", sleep) // edited while the deployment was interrupted
		before := e.runCount()
		e.must(0, "resume")
		if got, want := e.runsSince(before), []string{"two 2.0.0 prod 2"}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("resume ran %q, want %q", got, want)
		}
		os.Remove(e.path("hold"))
	})

	t.Run("a released script changed on disk is refused before it runs", func(t *testing.T) {
		e := e.with(t)
		copy := filepath.Join(e.dir, ".strata", "recipes", strings.TrimPrefix(one.Recipe, "sha256:"), "deploy", "web.sh")
		if err := os.Chmod(copy, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copy, []byte("#!/bin/sh\necho tampered >> "+e.path("runs")+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		before := e.runCount()
		r := e.must(1, "deploy", "web@1.0.0", "--env", "prod")
		if !strings.Contains(r.stderr+r.stdout, "changed after the release") {
			t.Errorf("the refusal should say the recipe changed after the release:\n%s", r)
		}
		// The refused deployment rolls back to the last good release (2.0.0), whose copy is
		// intact; the tampered 1.0.0 copy never runs.
		for _, line := range e.runsSince(before) {
			if strings.Contains(line, "tampered") || strings.Contains(line, "1.0.0") {
				t.Errorf("a tampered recipe ran: %q", line)
			}
		}
	})
}

// artifactEstate has a build that must never run: releases come from --artifact.
const artifactEstate = `project: ci
environments:
  dev: {labels: {tier: dev}}
  prod: {labels: {tier: prod}}
services:
  web:
    build: echo built >> @SCRATCH@/builds; exit 1
    deploy: ./deploy/web.sh
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: prod
    environments: [prod]
`

// writeArtifactScript writes deploy/web.sh, which records its tag and what the release's
// artifacts hold.
func writeArtifactScript(e *estate, tag string) {
	e.t.Helper()
	e.write("deploy/web.sh", "#!/bin/sh\necho \""+tag+" $STRATA_ENV $(cd \"$STRATA_ARTIFACTS\" && find . -type f | sort | tr '\\n' ' ')$(cat \"$STRATA_ARTIFACTS/app.txt\")\" >> "+e.scratch+"/runs\n")
	if err := os.Chmod(filepath.Join(e.dir, "deploy/web.sh"), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

// buildElsewhere writes what CI built: dist/app.txt and dist/lib/x.so in the scratch
// directory, and a loose file notes.txt.
func buildElsewhere(e *estate, content string) (dist, notes string) {
	e.t.Helper()
	dist, notes = e.path("dist"), e.path("notes.txt")
	os.MkdirAll(filepath.Join(dist, "lib"), 0o755)
	for name, data := range map[string]string{"dist/app.txt": content, "dist/lib/x.so": "so", "notes.txt": "n"} {
		if err := os.WriteFile(e.path(name), []byte(data), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	return dist, notes
}

func TestReleaseArtifactRecordsFilesBuiltElsewhere(t *testing.T) {
	e := newEstate(t, artifactEstate)
	writeArtifactScript(e, "local")
	dist, notes := buildElsewhere(e, "ci-bytes")

	rel := e.release("web", "--version", "1.0.0", "--artifact", dist, "--artifact", notes)
	if e.read("builds") != "" {
		t.Errorf("release --artifact ran the build step")
	}
	if got, want := e.runsSince(0), []string{"local dev ./app.txt ./lib/x.so ./notes.txt ci-bytes"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the auto stage's deploy saw %q, want %q", got, want)
	}
	if !strings.HasPrefix(rel.Bundle, "sha256:") || rel.Bundle == rel.Digest {
		t.Errorf("release %+v: want a bundle digest of its own", rel)
	}

	t.Run("the same version with other bytes is refused", func(t *testing.T) {
		e := e.with(t)
		os.WriteFile(filepath.Join(dist, "app.txt"), []byte("other"), 0o644)
		r := e.must(2, "release", "web", "--version", "1.0.0", "--artifact", dist, "--artifact", notes)
		if !strings.Contains(r.stderr, "immutable") {
			t.Errorf("the refusal should say releases are immutable:\n%s", r)
		}
		os.WriteFile(filepath.Join(dist, "app.txt"), []byte("ci-bytes"), 0o644)
	})
}

func TestBadBundleInputIsRefusedNamingWhere(t *testing.T) {
	cases := []struct {
		name   string
		bundle string // services.web.bundle, "" for the default
		args   []string
		want   string
	}{
		{"a missing --artifact path names the flag", "", []string{"release", "web", "--version", "1", "--artifact", "no/such/dist"}, `--artifact "no/such/dist": no such file or directory`},
		{"--artifact without --version says it is needed", "", []string{"release", "web", "--artifact", "deploy"}, "--artifact needs --version"},
		{"a bundle glob that matches nothing names its line", `["scripts/*.sh"]`, []string{"release", "web", "--version", "1"}, `strata.yaml:9:14: bundle entry "scripts/*.sh" matches no file`},
		{"a bundle glob that leaves the project names its line", `["../*"]`, []string{"validate"}, `strata.yaml:9:14: bundle entry "../*" leaves the project directory`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			yaml := artifactEstate
			if c.bundle != "" {
				yaml = strings.Replace(yaml, "    deploy: ./deploy/web.sh\n", "    deploy: ./deploy/web.sh\n    bundle: "+c.bundle+"\n", 1)
			}
			e := newEstate(t, yaml)
			writeArtifactScript(e, "x")
			r := e.must(2, c.args...)
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr should say %q:\n%s", c.want, r)
			}
			if _, err := os.Stat(filepath.Join(e.dir, ".strata", "recipes")); err == nil {
				t.Errorf("a refused release left a recipe on disk")
			}
			if e.read("runs") != "" {
				t.Errorf("a refused release ran a step: %q", e.read("runs"))
			}
		})
	}
}

func TestReleaseArtifactOnAServerUploadsTheBundleWithAScopedToken(t *testing.T) {
	srv := newEstate(t, artifactEstate)
	writeArtifactScript(srv, "server-copy")
	ciBot := createToken(t, srv, "ci-bot", "--role", "deployer", "--envs", "tier=dev").Token
	ops := createToken(t, srv, "ops", "--role", "admin").Token
	url, _ := serveWith(t, srv, "--max-upload", "1")

	// CI's checkout: the same strata.yaml, its own (newer) script; the runs land in the
	// server's scratch directory, where the server runs the steps.
	ci := newEstate(t, artifactEstate)
	yaml, _ := os.ReadFile(filepath.Join(srv.dir, "strata.yaml"))
	ci.write("strata.yaml", string(yaml))
	ci.write("deploy/web.sh", strings.ReplaceAll(mustRead(t, filepath.Join(srv.dir, "deploy/web.sh")), "server-copy", "ci-checkout"))
	os.Chmod(filepath.Join(ci.dir, "deploy/web.sh"), 0o755)
	dist, notes := buildElsewhere(ci, "ci-bytes")

	rel := ci.as(url, ciBot).release("web", "--version", "1.0.0", "--artifact", dist, "--artifact", notes)
	if srv.read("builds") != "" || ci.read("builds") != "" {
		t.Errorf("release --artifact on a server ran the build step")
	}
	if got, want := srv.runsSince(0), []string{"ci-checkout dev ./app.txt ./lib/x.so ./notes.txt ci-bytes"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the server's dev deploy ran %q, want %q (CI's script and artifacts)", got, want)
	}
	if !strings.HasPrefix(rel.Bundle, "sha256:") {
		t.Errorf("release document %+v has no bundle digest", rel)
	}

	t.Run("the scoped token cannot promote beyond its environments; an admin can, with the same bundle", func(t *testing.T) {
		r := ci.as(url, ciBot).must(4, "promote", "web@1.0.0", "--to", "prod")
		if !strings.Contains(r.stderr, "prod") {
			t.Errorf("the refusal should name prod:\n%s", r)
		}
		before := srv.runCount()
		ci.as(url, ops).must(0, "promote", "web@1.0.0", "--to", "prod")
		if got, want := srv.runsSince(before), []string{"ci-checkout prod ./app.txt ./lib/x.so ./notes.txt ci-bytes"}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("the promotion ran %q, want %q", got, want)
		}
	})

	t.Run("an upload over the server's cap is refused naming the cap, and nothing is recorded", func(t *testing.T) {
		big := ci.path("big.bin")
		if err := os.WriteFile(big, bytes.Repeat([]byte("x"), 2<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		r := ci.as(url, ciBot).must(2, "release", "web", "--version", "2.0.0", "--artifact", big)
		if !strings.Contains(r.stderr, "cap of 1 MiB") || !strings.Contains(r.stderr, "--max-upload") {
			t.Errorf("the refusal should name the cap and --max-upload:\n%s", r)
		}
		if r := srv.run("deploy", "web@2.0.0", "--env", "dev"); r.code != 2 || !strings.Contains(r.stderr, "no release") {
			t.Errorf("a refused upload recorded a release:\n%s", r)
		}
	})

	t.Run("a bundle whose content does not match its digest is refused and nothing is kept", func(t *testing.T) {
		before := entries(t, filepath.Join(srv.dir, ".strata", "artifacts"))
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "artifacts/evil.sh", Mode: 0o755, Size: 4, Typeflag: tar.TypeReg})
		tw.Write([]byte("evil"))
		tw.Close()
		req, _ := http.NewRequest("POST", url+"/api/v1/bundles?digest=sha256:"+strings.Repeat("ab", 32), &buf)
		req.Header.Set("Authorization", "Bearer "+ciBot)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a mismatched bundle got status %d, want 400", resp.StatusCode)
		}
		if after := entries(t, filepath.Join(srv.dir, ".strata", "artifacts")); after != before {
			t.Errorf("a refused upload left artifacts: before %q, after %q", before, after)
		}
		if _, err := os.Stat(filepath.Join(srv.dir, ".strata", "bundles", strings.Repeat("ab", 32)+".json")); err == nil {
			t.Errorf("a refused upload was recorded")
		}
	})
}

// entries lists a directory's names, skipping in-progress temporaries.
func entries(t *testing.T, dir string) string {
	t.Helper()
	es, _ := os.ReadDir(dir)
	var names []string
	for _, e := range es {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return strings.Join(names, " ")
}

const keptConfigEstate = `project: kept
environments:
  prod: {config: {GREETING: hello, WORKERS: 2}}
services:
  web:
    deploy: echo "$STRATA_VERSION $GREETING $WORKERS $(grep -o '"WORKERS":[0-9.]*' "$STRATA_CONFIG")" >> @SCRATCH@/runs; test "$PASSWORD" = "$(cat @SCRATCH@/want-password)"
    config:
      GREETING: {type: string}
      WORKERS: {type: integer}
      PASSWORD: {type: string, secret: true}
`

func TestARollbackReusesTheConfigOfTheDeploymentItReturnsTo(t *testing.T) {
	e := newEstate(t, keptConfigEstate)
	e.env = append(e.env, "STRATA_KEYS="+filepath.Join(t.TempDir(), "keys"))
	e.must(0, "secret", "keygen", "prod")
	password := func(v string) {
		setSecret(t, e, "prod", "PASSWORD", v)
		os.WriteFile(e.path("want-password"), []byte(v), 0o600)
	}
	password("first-secret-1")
	e.release("web", "--version", "1")
	e.deploy(0, "web@1", "--env", "prod")

	// Today's files and secrets differ from what 1 ran with.
	yaml := mustRead(t, filepath.Join(e.dir, "strata.yaml"))
	e.write("strata.yaml", strings.Replace(yaml, "{GREETING: hello, WORKERS: 2}", "{GREETING: bonjour, WORKERS: 8}", 1))
	password("rotated-secret-2")
	e.release("web", "--version", "2")
	before := e.runCount()
	e.deploy(0, "web@2", "--env", "prod")
	r := e.must(0, "rollback", "web", "--env", "prod")
	d := e.history("web")[0]

	runs := e.runsSince(before)
	if len(runs) != 2 {
		t.Fatalf("want the deploy of 2 and the rollback to 1, got %q", runs)
	}
	cases := []struct {
		name      string
		got, want bool
	}{
		{"the deploy of 2 uses today's config", strings.HasPrefix(runs[0], "2 bonjour 8 "), true},
		{"the rollback to 1 uses the config 1 ran with", strings.HasPrefix(runs[1], "1 hello 2 "), true},
		{"an integer stays an integer in $STRATA_CONFIG", strings.HasSuffix(runs[1], ` "WORKERS":2`), true},
		{"the rollback succeeded with today's secret, resolved afresh", d.State == "succeeded" && d.Version == "1" && d.Kind == "rollback", true},
		{"the rollback says which keys differ from today's", strings.Contains(r.stderr, "today's differs in GREETING, WORKERS)"), true},
		{"the kept config never holds the secret", strings.Contains(r.stdout+r.stderr+e.run("history", "-o", "json").stdout, "secret-"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v; runs %q; rollback %s", c.got, c.want, runs, r)
			}
		})
	}
}
