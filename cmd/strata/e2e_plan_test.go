package main_test

import (
	"fmt"
	"strings"
	"testing"
)

// outputsEstate has api read db's output URL through its config, as the shop's api reads
// migrations' DB_URL. db writes URL=db://ENV when it deploys.
const outputsEstate = `project: out
environments:
  dev: {}
  prod-us: {labels: {tier: prod}}
  prod-eu: {labels: {tier: prod}}
services:
  db:
    deploy: echo "URL=db://$STRATA_ENV" >> "$STRATA_OUTPUTS"
  api:
    deploy: "true"
    depends_on: [db]
    config:
      PORT: {type: integer, default: 8080}
      DB_URL: {type: string, default: "${outputs.db.URL}"}
pipeline:
  - {stage: dev, environments: [dev], auto: true}
  - {stage: prod, environments: {tier: prod}, waves: 1}
`

func TestPlanShowsTheConfigOfServicesThatReadTheirDependenciesOutputs(t *testing.T) {
	t.Parallel()
	e := newEstate(t, outputsEstate)
	e.release("db", "--version", "1")
	e.release("api", "--version", "1")
	e.deploy(0, "db@1", "--env", "prod-us")

	p := e.promote(0, "plan", "api@1")
	got := map[string]map[string]any{}
	for _, env := range p.Environments {
		got[env.Name] = map[string]any{}
		for _, c := range env.Changes {
			got[env.Name][c.Key] = c.To
		}
	}
	for _, c := range []struct{ env, key, want string }{
		{"prod-us", "PORT", "8080"},
		{"prod-us", "DB_URL", "db://prod-us"},
		// db has not run in prod-eu yet: its output is shown as the reference it will fill.
		{"prod-eu", "PORT", "8080"},
		{"prod-eu", "DB_URL", "${outputs.db.URL}"},
	} {
		if v, ok := got[c.env][c.key]; !ok || fmt.Sprint(v) != c.want {
			t.Errorf("plan: %s would get %s = %v, want %s; environments %+v", c.env, c.key, v, c.want, p.Environments)
		}
	}
	if text := e.must(0, "plan", "api@1").stdout; !strings.Contains(text, "DB_URL: - -> db://prod-us") {
		t.Errorf("plan's text lacks prod-us's DB_URL:\n%s", text)
	}
}
