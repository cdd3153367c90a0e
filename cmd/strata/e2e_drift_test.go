package main_test

import (
	"os"
	"strings"
	"testing"
)

// driftE2EEstate deploys api by writing its version where observe reads it back.
const driftE2EEstate = `project: shop
defaults:
  config: {LOG_LEVEL: info}
environments:
  dev: {labels: {tier: dev}}
  prod: {labels: {tier: prod}}
services:
  api:
    deploy: echo "$STRATA_VERSION" > "@SCRATCH@/running-$STRATA_ENV"
    observe: cat "@SCRATCH@/running-$STRATA_ENV"
    config:
      PORT: {type: integer, default: 8080}
      LOG_LEVEL: {type: string}
`

type driftDoc struct {
	Drift []struct {
		Service     string `json:"service"`
		Environment string `json:"environment"`
		Kind        string `json:"kind"`
		Detail      string `json:"detail"`
	} `json:"drift"`
}

func TestDriftFromTheCommandLine(t *testing.T) {
	t.Parallel()
	e := newEstate(t, driftE2EEstate)
	e.release("api", "--version", "1.0")
	e.deploy(0, "api", "--env", "dev")
	e.deploy(0, "api", "--env", "prod")

	r := e.must(0, "drift")
	if !strings.Contains(r.stdout, "no drift") {
		t.Errorf("right after deploys: want \"no drift\"\n%s", r)
	}

	// A config value changes in strata.yaml: config drift in both, naming the key.
	e.write("strata.yaml", strings.Replace(strings.ReplaceAll(driftE2EEstate, "@SCRATCH@", e.scratch), "default: 8080", "default: 9090", 1))
	r = e.must(1, "drift", "-o", "json")
	var doc driftDoc
	jsonDoc(t, r, &doc)
	if len(doc.Drift) != 2 {
		t.Fatalf("want config drift in dev and prod, got\n%s", r)
	}
	for _, d := range doc.Drift {
		if d.Service != "api" || d.Kind != "config" || d.Detail != "PORT: 8080 -> 9090" {
			t.Errorf("drift item %+v, want api config PORT: 8080 -> 9090", d)
		}
	}
	r = e.must(1, "drift", "--env", "prod")
	if !strings.Contains(r.stdout, "PORT: 8080 -> 9090") || strings.Contains(r.stdout, "dev") {
		t.Errorf("drift --env prod: want a table with prod's PORT only\n%s", r)
	}

	// What runs in prod is not what was deployed: version drift.
	if err := os.WriteFile(e.path("running-prod"), []byte("0.9-hotfix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.must(1, "drift", "--env", "prod", "-o", "json")
	doc = driftDoc{}
	jsonDoc(t, r, &doc)
	var kinds []string
	for _, d := range doc.Drift {
		kinds = append(kinds, d.Kind)
		if d.Kind == "version" && !strings.Contains(d.Detail, "observed 0.9-hotfix, but 1.0 was deployed") {
			t.Errorf("version drift detail %q", d.Detail)
		}
	}
	if strings.Join(kinds, " ") != "config version" {
		t.Errorf("kinds %v, want config then version\n%s", kinds, r)
	}

	// Redeploying brings both back in line.
	e.deploy(0, "api@1.0", "--env", "prod")
	e.deploy(0, "api@1.0", "--env", "dev")
	r = e.must(0, "drift", "-o", "json")
	doc = driftDoc{}
	jsonDoc(t, r, &doc)
	if len(doc.Drift) != 0 {
		t.Errorf("after redeploys: want no drift\n%s", r)
	}
}

func TestDriftRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := newEstate(t, driftE2EEstate)
	for _, args := range [][]string{
		{"drift", "--env", "prdo"},
		{"drift", "extra"},
		{"drift", "--bogus"},
	} {
		r := e.must(2, args...)
		if args[1] == "--env" && !strings.Contains(r.stderr, `unknown environment "prdo"`) {
			t.Errorf("want the unknown environment named\n%s", r)
		}
	}
}
