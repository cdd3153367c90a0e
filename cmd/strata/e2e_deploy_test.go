package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deployEstate has a database whose deploy writes an output, and an api that depends on it,
// reads the output through its config, and writes everything its step sees to scratch files.
const deployEstate = `project: shop
defaults:
  config: {LOG_LEVEL: info}
environments:
  dev: {labels: {tier: dev, region: us-east}}
  prod-us: {labels: {tier: prod, region: us-east}}
  prod-eu:
    extends: prod-us
    labels: {region: eu-west}
services:
  db:
    build: echo schema > "$STRATA_ARTIFACTS/schema.sql"
    deploy: echo "URL=postgres://db.$STRATA_ENV.internal/shop" >> "$STRATA_OUTPUTS"; echo "# a comment" >> "$STRATA_OUTPUTS"
  api:
    build: echo bin > "$STRATA_ARTIFACTS/api"
    deploy: env > @SCRATCH@/env-$STRATA_ENV; cp "$STRATA_CONFIG" @SCRATCH@/config-$STRATA_ENV.json; echo "URL=http://api.$STRATA_ENV" >> "$STRATA_OUTPUTS"
    depends_on: [db]
    config:
      PORT: {type: integer, default: 8080}
      LOG_LEVEL: {type: string, enum: [debug, info, warn, error]}
      REGION: {type: string, default: "${env.labels.region}"}
      DB_URL: {type: string, default: "${outputs.db.URL}"}
    overrides:
      prod-eu: {PORT: 9090}
`

// stepEnv reads an `env` dump into a map.
func stepEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the deploy step did not run: %v", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

func TestADeployStepSeesEverythingSectionFourPromises(t *testing.T) {
	t.Parallel()
	e := newEstate(t, deployEstate)
	db := e.release("db", "--version", "1")
	api := e.release("api", "--version", "2.0")
	e.deploy(0, "db", "--env", "prod-eu")
	d := e.deploy(0, "api@2.0", "--env", "prod-eu")

	env := stepEnv(t, e.path("env-prod-eu"))
	artifacts := env["STRATA_ARTIFACTS"]
	want := map[string]string{
		"STRATA_PROJECT":    "shop",
		"STRATA_ENV":        "prod-eu",
		"STRATA_SERVICE":    "api",
		"STRATA_VERSION":    "2.0",
		"STRATA_RELEASE":    api.ID,
		"STRATA_DIGEST":     api.Digest,
		"STRATA_DEPLOYMENT": d.ID,
		"STRATA_ATTEMPT":    "1",
		"STRATA_ACTOR":      "e2e-tester", // the environment of the process that runs strata
		"PORT":              "9090",
		"LOG_LEVEL":         "info",
		"REGION":            "eu-west",
		"DB_URL":            "postgres://db.prod-eu.internal/shop",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s: got %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"STRATA_ARTIFACTS", "STRATA_CONFIG", "STRATA_OUTPUTS"} {
		if !filepath.IsAbs(env[k]) {
			t.Errorf("%s = %q: want an absolute path (a step may change directory)", k, env[k])
		}
	}
	if filepath.Base(artifacts) != strings.TrimPrefix(api.Digest, "sha256:") {
		t.Errorf("STRATA_ARTIFACTS %q is not the directory of digest %s", artifacts, api.Digest)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, ".strata", "artifacts", strings.TrimPrefix(api.Digest, "sha256:"), "api")); err != nil || string(b) != "bin\n" {
		t.Errorf("the release's artifact beside the store: %q, %v", b, err)
	}
	_ = db

	var cfg map[string]any
	b, err := os.ReadFile(e.path("config-prod-eu.json"))
	if err != nil {
		t.Fatalf("the step could not copy $STRATA_CONFIG: %v", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("$STRATA_CONFIG is not JSON: %v\n%s", err, b)
	}
	if cfg["PORT"] != float64(9090) || cfg["REGION"] != "eu-west" || cfg["DB_URL"] != "postgres://db.prod-eu.internal/shop" || cfg["LOG_LEVEL"] != "info" {
		t.Errorf("$STRATA_CONFIG holds %v; want PORT 9090 (a number), REGION eu-west, DB_URL from db's outputs, LOG_LEVEL info", cfg)
	}
	if d.Outputs["URL"] != "http://api.prod-eu" {
		t.Errorf("the deployment's outputs: got %v, want URL=http://api.prod-eu", d.Outputs)
	}
}

func TestADependencysOutputsReachItsDependentsInThatEnvironmentOnly(t *testing.T) {
	t.Parallel()
	e := newEstate(t, deployEstate)
	e.release("db", "--version", "1")
	e.release("api", "--version", "1")
	e.deploy(0, "db", "--env", "dev")
	e.deploy(0, "db", "--env", "prod-us")
	e.deploy(0, "api", "--env", "dev")
	e.deploy(0, "api", "--env", "prod-us")
	for _, env := range []string{"dev", "prod-us"} {
		got := stepEnv(t, e.path("env-"+env))["DB_URL"]
		if want := "postgres://db." + env + ".internal/shop"; got != want {
			t.Errorf("DB_URL in %s: got %q, want %q", env, got, want)
		}
	}
}

func TestADeployIsBlockedWhenADependencyIsNotDeployedThere(t *testing.T) {
	t.Parallel()
	e := newEstate(t, deployEstate)
	e.release("db", "--version", "1")
	e.release("api", "--version", "1")
	e.deploy(0, "db", "--env", "dev")
	r := e.must(3, "deploy", "api@1", "--env", "prod-us")
	if !strings.Contains(r.stderr, "db") || !strings.Contains(r.stderr, "prod-us") {
		t.Errorf("the refusal should name the missing service db and the environment:\n%s", r)
	}
	if _, err := os.Stat(e.path("env-prod-us")); err == nil {
		t.Errorf("the blocked deploy ran its step")
	}
	if ds := e.history("api", "--env", "prod-us"); len(ds) != 0 {
		t.Errorf("a blocked deploy was recorded: %+v", ds)
	}
}

func TestUnknownNamesAreRefusedWithTheKnownOnes(t *testing.T) {
	t.Parallel()
	e := newEstate(t, deployEstate)
	e.release("db", "--version", "1")
	e.release("db", "--version", "2")
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"an unknown service lists the services", []string{"deploy", "dbb", "--env", "dev"}, []string{`"dbb"`, "db", "api"}},
		{"an unknown environment lists the environments", []string{"deploy", "db", "--env", "prod-uk"}, []string{`"prod-uk"`, "dev", "prod-us", "prod-eu"}},
		{"an unknown version lists the versions", []string{"deploy", "db@3", "--env", "dev"}, []string{`"3"`, "2, 1"}},
		{"a service without releases says how to make one", []string{"deploy", "api", "--env", "dev"}, []string{"strata release api"}},
		{"deploy without --env says it is needed", []string{"deploy", "db"}, []string{"--env"}},
		{"an unknown environment in history lists the environments", []string{"history", "--env", "qa"}, []string{`"qa"`, "prod-eu"}},
		{"an unknown service in rollback lists the services", []string{"rollback", "web", "--env", "dev"}, []string{`"web"`, "api"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.must(2, tc.args...)
			for _, w := range tc.wants {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr should hold %q:\n%s", w, r)
				}
			}
		})
	}
	if ds := e.history(); len(ds) != 0 {
		t.Errorf("refused commands recorded deployments: %d in history, want none", len(ds))
	}
}
