package main_test

// End-to-end tests of `strata token`: the real binary on a real estate and store.

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

const tokenEstate = `project: shop
environments:
  dev: {labels: {tier: dev}}
  prod-us: {labels: {tier: prod, region: us-east}}
  prod-eu:
    extends: prod-us
    labels: {region: eu-west}
services:
  api:
    deploy: "true"
pipeline:
  - stage: dev
    environments: [dev]
  - stage: prod
    environments: {tier: prod}
`

// created is `token create -o json`'s document.
type created struct {
	Name  string   `json:"name"`
	Token string   `json:"token"`
	Role  string   `json:"role"`
	Envs  []string `json:"envs"`
}

func createToken(t *testing.T, e *estate, args ...string) created {
	t.Helper()
	r := e.must(0, append([]string{"-o", "json", "token", "create"}, args...)...)
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil {
		t.Fatalf("token create -o json is not one JSON document: %v\n%s", err, r)
	}
	if got := slices.Sorted(maps.Keys(keys)); !reflect.DeepEqual(got, []string{"envs", "name", "role", "token"}) {
		t.Errorf("token create -o json has keys %v, want exactly name, token, role, envs", got)
	}
	var c created
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenCreatePrintsTheTokenOnceAndKeepsOnlyItsHash(t *testing.T) {
	t.Parallel()
	e := newEstate(t, tokenEstate)
	c := createToken(t, e, "ci", "--role", "deployer", "--envs", "tier=dev", "--envs", "tier=prod,region=eu-west")
	if c.Name != "ci" || c.Role != "deployer" || !strings.HasPrefix(c.Token, "strata_") ||
		!reflect.DeepEqual(c.Envs, []string{"tier=dev", "region=eu-west,tier=prod"}) {
		t.Errorf("created %+v, want ci, a deployer, a strata_ token and both selectors", c)
	}
	text := e.must(0, "token", "create", "ops", "--role", "admin")
	if !strings.Contains(text.stdout, "strata_") || !strings.Contains(text.stdout, "every environment") ||
		!strings.Contains(text.stdout, "not shown again") {
		t.Errorf("text output should show the token, its scope and that it is shown once:\n%s", text)
	}
	admin := strings.Fields(text.stdout[strings.Index(text.stdout, "strata_"):])[0]

	// The secret is nowhere after: not in list, audit, or any file of the store.
	list := e.must(0, "token", "list")
	listJSON := e.must(0, "-o", "json", "token", "list")
	audit := e.must(0, "-o", "json", "audit")
	for _, secret := range []string{c.Token, admin} {
		hash := strata.HashToken(secret)
		for _, r := range []result{list, listJSON, audit} {
			if strings.Contains(r.stdout+r.stderr, secret) || strings.Contains(r.stdout+r.stderr, hash) {
				t.Errorf("a token's secret or hash is shown:\n%s", r)
			}
		}
		files, _ := filepath.Glob(filepath.Join(e.dir, ".strata", "state.db*"))
		if len(files) == 0 {
			t.Fatal("no store files")
		}
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), strings.TrimPrefix(secret, "strata_")) {
				t.Errorf("%s holds a token's secret", f)
			}
		}
	}
	if !strings.Contains(list.stdout, "ci") || !strings.Contains(list.stdout, "tier=dev or region=eu-west,tier=prod") ||
		!strings.Contains(list.stdout, "e2e-tester") {
		t.Errorf("list should show ci's scope and who made it:\n%s", list)
	}
}

func TestTokenListAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEstate(t, tokenEstate)
	createToken(t, e, "ci", "--role", "viewer")
	createToken(t, e, "alice", "--role", "approver", "--envs", "name=prod-eu")
	e.must(0, "token", "revoke", "ci")

	var docs []struct {
		Name      string   `json:"name"`
		Role      string   `json:"role"`
		Envs      []string `json:"envs"`
		CreatedBy string   `json:"created_by"`
		Revoked   bool     `json:"revoked"`
		RevokedAt string   `json:"revoked_at"`
	}
	r := e.must(0, "-o", "json", "token", "list")
	if err := json.Unmarshal([]byte(r.stdout), &docs); err != nil {
		t.Fatalf("token list -o json: %v\n%s", err, r)
	}
	if len(docs) != 2 || docs[0].Name != "alice" || docs[0].Revoked || docs[0].Envs[0] != "name=prod-eu" ||
		docs[1].Name != "ci" || !docs[1].Revoked || docs[1].RevokedAt == "" || docs[1].Envs == nil || docs[1].CreatedBy != "e2e-tester" {
		t.Errorf("listed %+v, want alice valid then ci revoked", docs)
	}

	t.Run("a revoked name can be given to a new token", func(t *testing.T) {
		createToken(t, e.with(t), "ci", "--role", "deployer")
	})
	t.Run("the audit log names who made and revoked each token", func(t *testing.T) {
		var events []strata.Event
		r := e.with(t).must(0, "-o", "json", "audit")
		if err := json.Unmarshal([]byte(r.stdout), &events); err != nil {
			t.Fatalf("audit -o json: %v\n%s", err, r)
		}
		var got []string
		for _, ev := range events {
			got = append(got, ev.Actor+" "+ev.Action+" "+ev.Subject)
		}
		want := "e2e-tester token.create ci|e2e-tester token.create alice|e2e-tester token.revoke ci|e2e-tester token.create ci"
		if strings.Join(got, "|") != want {
			t.Errorf("audit %q, want %q", strings.Join(got, "|"), want)
		}
	})
}

func TestTokenCommandsRefuseBadInput(t *testing.T) {
	t.Parallel()
	e := newEstate(t, tokenEstate)
	createToken(t, e, "ci", "--role", "viewer")
	tests := []struct {
		name     string
		args     []string
		code     int
		mentions string
	}{
		{"an unknown role names the roles", []string{"token", "create", "x", "--role", "root"}, 2, "viewer, deployer, approver, admin"},
		{"a missing role names the roles", []string{"token", "create", "x"}, 2, "viewer, deployer, approver, admin"},
		{"a bad selector gives an example", []string{"token", "create", "x", "--role", "viewer", "--envs", "prod"}, 2, "e.g. tier=prod"},
		{"a name with a space is refused", []string{"token", "create", "a b", "--role", "viewer"}, 2, "token name"},
		{"a name in use is a conflict", []string{"token", "create", "ci", "--role", "admin"}, 2, "exists already"},
		{"revoking an unknown name says how to list them", []string{"token", "revoke", "nobody"}, 2, "token list"},
		{"create takes one name", []string{"token", "create", "--role", "viewer"}, 2, "one NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.with(t).must(tt.code, tt.args...)
			if !strings.Contains(r.stderr, tt.mentions) {
				t.Errorf("stderr should mention %q:\n%s", tt.mentions, r)
			}
		})
	}
	t.Run("a selector that matches no environment is made but warned about", func(t *testing.T) {
		r := e.with(t).must(0, "token", "create", "typo", "--role", "viewer", "--envs", "tier=production")
		if !strings.Contains(r.stderr, "tier=production matches none") {
			t.Errorf("want a warning:\n%s", r)
		}
	})
	t.Run("in remote mode token commands refuse rather than use a store the server does not read", func(t *testing.T) {
		remote := e.with(t)
		remote.env = append(slices.Clone(e.env), "STRATA_SERVER=http://127.0.0.1:1")
		for _, args := range [][]string{{"token", "create", "y", "--role", "viewer"}, {"token", "list"}, {"token", "revoke", "ci"}} {
			r := remote.must(2, args...)
			if !strings.Contains(r.stderr, "where the project and store are") {
				t.Errorf("want a refusal naming where to run it:\n%s", r)
			}
		}
	})
	t.Run("outside a project nothing is created", func(t *testing.T) {
		dir := t.TempDir()
		e.with(t).must(2, "-C", dir, "token", "create", "x", "--role", "viewer")
		if _, err := os.Stat(filepath.Join(dir, ".strata")); err == nil {
			t.Errorf("a store was made in a directory without strata.yaml")
		}
	})
}

const servedEstate = `project: shop
environments:
  dev: {labels: {tier: dev}}
  prod-us:
    labels: {tier: prod, region: us-east}
    policy: {approvals: 1}
  prod-eu:
    extends: prod-us
    labels: {region: eu-west}
services:
  api:
    build: echo bin > "$STRATA_ARTIFACTS/api"
    deploy: "true"
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: prod
    environments: {tier: prod}
`

// serve starts `strata serve` on a free port of the estate and returns its URL.
func serve(t *testing.T, e *estate) string {
	t.Helper()
	url, _ := serveWith(t, e)
	return url
}

// serveWith starts `strata serve` with the extra flags on a free port of the estate and
// returns its URL and the running process (whose stderr holds the server's log).
func serveWith(t *testing.T, e *estate, flags ...string) (string, *background) {
	t.Helper()
	b := e.start(append([]string{"serve", "--listen", "127.0.0.1:0", "--tick", "1h"}, flags...)...)
	var url string
	waitFor(t, 30*time.Second, "strata serve to listen", func() bool {
		if b.ended() {
			t.Fatalf("strata serve ended:\n%s", b.wait(t, time.Second))
		}
		log, _ := os.ReadFile(b.stderr)
		if m := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).Find(log); m != nil {
			url = string(m)
		}
		return url != ""
	})
	t.Cleanup(func() { b.cmd.Process.Signal(os.Interrupt) })
	return url, b
}

// as returns the estate running commands on the server at url with token.
func (e *estate) as(url, token string) *estate {
	c := *e
	c.env = append(slices.Clone(e.env), "STRATA_SERVER="+url, "STRATA_TOKEN="+token)
	return &c
}

func TestTokensFromTheCLIAreWhoActsOnAServer(t *testing.T) {
	t.Parallel()
	e := newEstate(t, servedEstate)
	ops := createToken(t, e, "ops", "--role", "admin").Token
	devBot := createToken(t, e, "dev-bot", "--role", "deployer", "--envs", "tier=dev").Token
	alice := createToken(t, e, "alice", "--role", "approver", "--envs", "tier=prod").Token
	euViewer := createToken(t, e, "eu-viewer", "--role", "viewer", "--envs", "name=prod-eu").Token
	url := serve(t, e)

	t.Run("a scoped viewer sees only the environments it covers", func(t *testing.T) {
		r := e.with(t).as(url, euViewer).must(0, "-o", "json", "env", "list")
		var envs []struct{ Name string }
		if err := json.Unmarshal([]byte(r.stdout), &envs); err != nil || len(envs) != 1 || envs[0].Name != "prod-eu" {
			t.Errorf("env list = %+v (%v), want prod-eu only\n%s", envs, err, r)
		}
	})
	denied := []struct {
		name, token, mentions string
		args                  []string
	}{
		{"a viewer may not freeze", euViewer, "viewer token", []string{"freeze", "prod-eu", "--reason", "x"}},
		{"an unknown token is refused", "strata_bogus", "unknown or revoked token", []string{"status"}},
		{"no token is refused", "", "no token", []string{"status"}},
		{"a deployer may not deploy outside its selectors", devBot, "does not cover environment prod-us", []string{"deploy", "api@1", "--env", "prod-us"}},
	}
	for _, tt := range denied {
		t.Run(tt.name, func(t *testing.T) {
			r := e.with(t).as(url, tt.token).must(4, tt.args...)
			if !strings.Contains(r.stderr, tt.mentions) {
				t.Errorf("stderr should mention %q:\n%s", tt.mentions, r)
			}
		})
	}

	e.as(url, devBot).must(0, "release", "api", "--version", "1")
	r := e.as(url, ops).must(3, "-o", "json", "promote", "api@1", "--to", "prod")
	var p struct{ ID, Requester string }
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || p.ID == "" {
		t.Fatalf("promote -o json: %v\n%s", err, r)
	}
	t.Run("the requester's own token may not approve", func(t *testing.T) {
		r := e.with(t).as(url, ops).must(2, "approve", p.ID)
		if !strings.Contains(r.stderr, "ops requested") {
			t.Errorf("want the requester named:\n%s", r)
		}
	})
	t.Run("only a role that may approve may approve", func(t *testing.T) {
		e.with(t).as(url, devBot).must(4, "approve", p.ID)
		e.with(t).as(url, euViewer).must(4, "approve", p.ID)
	})
	t.Run("a second principal's approval runs the promotion", func(t *testing.T) {
		r := e.with(t).as(url, alice).must(0, "-o", "json", "approve", p.ID)
		if !strings.Contains(r.stdout, `"succeeded"`) {
			t.Errorf("want a succeeded promotion:\n%s", r)
		}
	})
	t.Run("a revoked token is refused at once", func(t *testing.T) {
		e.with(t).must(0, "token", "revoke", "alice")
		r := e.with(t).as(url, alice).must(4, "status")
		if !strings.Contains(r.stderr, "unknown or revoked token") {
			t.Errorf("want the revoked token refused:\n%s", r)
		}
	})
	t.Run("the audit log names each token's principal and its refusals, never a token", func(t *testing.T) {
		r := e.with(t).must(0, "-o", "json", "audit")
		var events []strata.Event
		if err := json.Unmarshal([]byte(r.stdout), &events); err != nil {
			t.Fatal(err)
		}
		acted := map[string]bool{}
		for _, ev := range events {
			acted[ev.Actor+" "+ev.Action] = true
		}
		for _, want := range []string{"dev-bot release", "ops promote", "alice approve", "eu-viewer request.denied", "dev-bot request.denied"} {
			if !acted[want] {
				t.Errorf("no %q event in %v", want, slices.Sorted(maps.Keys(acted)))
			}
		}
		for _, secret := range []string{ops, devBot, alice, euViewer} {
			if strings.Contains(r.stdout, secret) || strings.Contains(r.stdout, strata.HashToken(secret)) {
				t.Errorf("the audit log holds a token")
			}
		}
	})
}
