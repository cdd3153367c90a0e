package main_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// sourceEstate keeps API_KEY in a command's output in prod-us (prod-eu inherits it) and in a
// failing command in broken; dev keeps it in its age file. The command prints a hostile
// value: quotes and a command substitution that must never run.
const sourceEstate = `project: sources
environments:
  dev: {labels: {tier: dev}}
  prod-us:
    labels: {tier: prod}
    secrets:
      API_KEY: "exec:cat @SCRATCH@/api-key"
  prod-eu:
    extends: prod-us
  broken:
    secrets:
      API_KEY: "exec:echo \"$(cat @SCRATCH@/api-key) is wrong\" >&2; exit 9"
services:
  api:
    deploy: "echo key=$API_KEY; printf %s \"$API_KEY\" > @SCRATCH@/seen-$STRATA_ENV"
    config:
      API_KEY: {type: string, secret: true}
`

func TestSecretsFromSourcesReachTheStepAndNothingElse(t *testing.T) {
	t.Parallel()
	e := newEstate(t, sourceEstate)
	value := `k'"$(touch ` + e.scratch + `/pwned)` + "`id`"
	if err := os.WriteFile(e.path("api-key"), []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.release("api", "--version", "1.0.0")

	for _, env := range []string{"prod-us", "prod-eu"} {
		t.Run("a deployment to "+env+" gets the value its source prints, redacted in the output", func(t *testing.T) {
			r := e.with(t).must(0, "deploy", "api", "--env", env)
			if got := e.read("seen-" + env); got != value {
				t.Errorf("the step got %q, want %q", got, value)
			}
			if strings.Contains(r.stdout+r.stderr, value) || !strings.Contains(r.stderr, "key=***") {
				t.Errorf("the value is not redacted:\n%s", r)
			}
		})
	}

	t.Run("a source that fails fails the deployment naming key, environment and source, not the value", func(t *testing.T) {
		r := e.with(t).must(1, "deploy", "api", "--env", "broken")
		for _, want := range []string{"API_KEY", "broken", "exec:", "exit status 9"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the error lacks %q:\n%s", want, r)
			}
		}
		if strings.Contains(r.stdout+r.stderr, value) {
			t.Errorf("the error holds the value:\n%s", r)
		}
	})

	t.Run("secret check says which keys resolve, never their values", func(t *testing.T) {
		r := e.with(t).must(1, "-o", "json", "secret", "check", "--env", "broken")
		var doc struct {
			Environment string
			Keys        []struct {
				Key, Source, Error string
				OK                 bool
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("not one JSON document: %v\n%s", err, r)
		}
		if doc.Environment != "broken" || len(doc.Keys) != 1 || doc.Keys[0].OK || !strings.HasPrefix(doc.Keys[0].Source, "exec:") {
			t.Errorf("secret check: %+v", doc)
		}
		if strings.Contains(r.stdout+r.stderr, value) {
			t.Errorf("secret check shows the value:\n%s", r)
		}
		ok := e.with(t).must(0, "secret", "check", "--env", "prod-eu")
		if !strings.Contains(ok.stdout, "API_KEY") || !strings.Contains(ok.stdout, "ok") {
			t.Errorf("secret check of prod-eu:\n%s", ok)
		}
		dev := e.with(t).must(1, "secret", "check", "--env", "dev")
		if !strings.Contains(dev.stdout, "age file") {
			t.Errorf("dev's key should come from its age file (sources are not inherited outside the chain):\n%s", dev)
		}
	})

	if _, err := os.Stat(e.path("pwned")); err == nil {
		t.Fatal("the value's command substitution ran")
	}
}
