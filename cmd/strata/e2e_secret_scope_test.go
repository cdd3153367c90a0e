package main_test

// End-to-end tests of issue 5 (secrets, short-lived environments): a deployment reads only
// the secret sources its own service declares, and a server finds the secrets of a
// short-lived environment made after it started.

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// scopeEstate: db keeps DB_PASS in the secrets files, api takes its secrets from outside
// sources only, docs has none.
const scopeEstate = `project: scope
environments:
  dev: {}
services:
  db:
    deploy: 'echo "db got $${#DB_PASS} bytes" > "@SCRATCH@/db-$STRATA_ENV"'
    config:
      DB_PASS: {type: string, secret: true}
  api:
    deploy: 'echo ran > "@SCRATCH@/api-$STRATA_ENV"'
    config:
      CI_TOKEN: {type: string, secret: true, from: "env:E2E_SCOPE_TOKEN"}
      TLS_KEY: {type: string, secret: true, from: "file:tls.key"}
  docs:
    deploy: 'echo ran > "@SCRATCH@/docs-$STRATA_ENV"'
`

// newScopeEstate returns the estate with its own key directory, no E2E_SCOPE_TOKEN and no
// tls.key, and its three services released as 1.
func newScopeEstate(t *testing.T) (e *estate, keys string) {
	t.Helper()
	e = newEstate(t, scopeEstate)
	keys = filepath.Join(t.TempDir(), "keys")
	e.env = append(slices.Clone(e.env), "STRATA_KEYS="+keys, "E2E_SCOPE_TOKEN=")
	for _, svc := range []string{"db", "api", "docs"} {
		e.release(svc, "--version", "1")
	}
	return e, keys
}

// setSecret runs `secret set ENV KEY` with value on stdin.
func setSecret(t *testing.T, e *estate, env, key, value string) {
	t.Helper()
	cmd := e.command("secret", "set", env, key)
	cmd.Stdin = strings.NewReader(value)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("secret set %s %s: %v\n%s", env, key, err, out)
	}
}

func TestADeploymentReadsOnlyTheSecretsItsServiceDeclares(t *testing.T) {
	t.Parallel()
	e, keys := newScopeEstate(t)
	e.must(0, "secret", "keygen", "dev")
	setSecret(t, e, "dev", "DB_PASS", "pw-12345")

	// api's outside sources are missing, but db and docs do not declare them.
	e.deploy(0, "db", "--env", "dev")
	if got := strings.TrimSpace(e.read("db-dev")); got != "db got 8 bytes" {
		t.Errorf("db's step saw %q, want its 8-byte secret", got)
	}
	r := e.must(2, "deploy", "api", "--env", "dev")
	for _, s := range []string{"dev", "CI_TOKEN", "E2E_SCOPE_TOKEN"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("the refusal does not name %q:\n%s", s, r)
		}
	}
	if e.read("api-dev") != "" {
		t.Error("api's deploy step ran without its secrets")
	}

	// dev's identity is not here: docs, which has no secrets, does not need it; db does.
	if err := os.Rename(filepath.Join(keys, "scope", "dev.key"), filepath.Join(keys, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	e.deploy(0, "docs", "--env", "dev")
	r = e.must(2, "deploy", "db", "--env", "dev")
	if !strings.Contains(r.stderr, filepath.Join(keys, "scope", "dev.key")) {
		t.Errorf("the refusal does not name dev's identity file:\n%s", r)
	}
}

func TestAServerDeploysToAShortLivedEnvironmentMadeAfterItStarted(t *testing.T) {
	t.Parallel()
	e, _ := newScopeEstate(t)
	token := createToken(t, e, "ann", "--role", "admin").Token
	srv := e.start("serve", "--listen", "127.0.0.1:0", "--tick", "1h")
	addr := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)`)
	url := ""
	waitFor(t, 30*time.Second, "the server to listen", func() bool {
		b, _ := os.ReadFile(srv.stderr)
		if m := addr.FindSubmatch(b); m != nil {
			url = "http://" + string(m[1])
			return true
		}
		if srv.ended() {
			t.Fatalf("strata serve ended:\n%s", b)
		}
		return false
	})
	remote := e.with(t)
	remote.env = append(slices.Clone(e.env), "STRATA_SERVER="+url, "STRATA_TOKEN="+token)

	remote.must(0, "env", "create", "pr-1", "--like", "dev")
	e.must(0, "secret", "keygen", "pr-1")
	setSecret(t, e, "pr-1", "DB_PASS", "pr-secret")
	remote.deploy(0, "docs", "--env", "pr-1")
	remote.deploy(0, "db", "--env", "pr-1")
	if got := strings.TrimSpace(e.read("db-pr-1")); got != "db got 9 bytes" {
		t.Errorf("db's step in pr-1 saw %q, want pr-1's 9-byte secret", got)
	}
	remote.must(0, "env", "destroy", "pr-1")
}
