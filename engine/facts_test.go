package engine_test

import (
	"os"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// factsEstate has two environments; db writes its URL (or nothing, for version 2) to its
// outputs, and api reads it through ${outputs.db.URL}, writes what it got and where its
// config file was, and declares a secret.
const factsEstate = `project: facts
environments:
  a: {}
  b: {}
services:
  db:
    deploy: |
      if [ "$STRATA_VERSION" = 1 ]; then echo "URL=db-$STRATA_ENV" >> "$STRATA_OUTPUTS"; fi
  api:
    depends_on: [db]
    deploy: |
      echo "$DB_URL" > "@SCRATCH@/url-$STRATA_ENV"
      echo "$STRATA_CONFIG" > "@SCRATCH@/config-path-$STRATA_ENV"
      cp "$STRATA_CONFIG" "@SCRATCH@/config-$STRATA_ENV"
    config:
      DB_URL: {type: string, default: "${outputs.db.URL}"}
      TOKEN: {type: string, secret: true}
pipeline:
  - stage: all
    environments: [a, b]
`

func TestDeployFacts(t *testing.T) {
	w := newWorld(t, factsEstate)
	e := w.engine()
	e.Secrets = func(env string) (map[string]string, error) { return map[string]string{"TOKEN": "s3cret-" + env}, nil }
	ctx := t.Context()
	for _, v := range []string{"1", "2"} {
		if _, err := e.Release(ctx, "db", v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Release(ctx, "api", "1"); err != nil {
		t.Fatal(err)
	}
	deploy := func(svc, version, env string) (*strata.Deployment, error) {
		return e.Deploy(ctx, engine.DeployRequest{Service: svc, Version: version, Env: env})
	}

	t.Run("a dependency's outputs reach its dependent in the same environment only", func(t *testing.T) {
		for _, env := range []string{"a", "b"} {
			if _, err := deploy("db", "1", env); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := deploy("api", "1", "a"); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.TrimSpace(w.read("url-a")), "db-a"; got != want {
			t.Errorf("api in a got DB_URL %q, want %q", got, want)
		}
	})

	t.Run("the config file holds the config while the step runs and is emptied after it when it holds secrets", func(t *testing.T) {
		if got := w.read("config-a"); !strings.Contains(got, "s3cret-a") || !strings.Contains(got, "db-a") {
			t.Errorf("config the step saw = %q, want the secret and DB_URL in it", got)
		}
		path := strings.TrimSpace(w.read("config-path-a"))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("the config file is gone (%v); it is emptied, not removed", err)
		}
		if len(b) != 0 {
			t.Errorf("the config file holds %q after the step, want it empty", b)
		}
	})

	t.Run("a deployment does not see the outputs an earlier one wrote to the same environment", func(t *testing.T) {
		d, err := deploy("db", "2", "b")
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Outputs) != 0 {
			t.Errorf("db@2 in b has outputs %v, want none (its step wrote none)", d.Outputs)
		}
	})

	t.Run("a direct deploy into a frozen environment is blocked before anything runs", func(t *testing.T) {
		if err := w.store.SetFreeze(ctx, "a", &strata.Freeze{Environment: "a", Reason: "audit", Actor: "tester"}, nil); err != nil {
			t.Fatal(err)
		}
		_, err := deploy("db", "2", "a")
		if strata.ErrorCode(err) != strata.EBLOCKED || !strings.Contains(err.Error(), "frozen") {
			t.Errorf("deploy into frozen a = %v, want EBLOCKED naming the freeze", err)
		}
	})

	t.Run("a dependent is blocked where its dependency is not deployed", func(t *testing.T) {
		w2 := newWorld(t, factsEstate)
		e2 := w2.engine()
		e2.Secrets = e.Secrets
		if _, err := e2.Release(ctx, "api", "1"); err != nil {
			t.Fatal(err)
		}
		_, err := e2.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "1", Env: "b"})
		if strata.ErrorCode(err) != strata.EBLOCKED || !strings.Contains(err.Error(), "db") {
			t.Errorf("deploy api without db = %v, want EBLOCKED naming db", err)
		}
	})
}
