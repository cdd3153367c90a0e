package main_test

import (
	"strings"
	"testing"
)

const statsEstate = `project: dora
environments:
  dev: {labels: {tier: dev}}
  prod: {labels: {tier: prod}}
services:
  api:
    deploy: "true"
  web:
    deploy: exit 3
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: prod
    environments: [prod]
`

type statsDoc struct {
	LastStage string `json:"last_stage"`
	Days      float64
	Services  []struct {
		Service             string   `json:"service"`
		DeploymentFrequency float64  `json:"deployment_frequency"`
		LeadTimeSeconds     *float64 `json:"lead_time_seconds"`
		ChangeFailureRate   *float64 `json:"change_failure_rate"`
		TimeToRestore       *float64 `json:"time_to_restore_seconds"`
		Releases            int      `json:"releases"`
		Deployments         int      `json:"deployments"`
		Failures            int      `json:"failures"`
	} `json:"services"`
}

func TestStatsGiveTheDORAFiguresOfTheHistory(t *testing.T) {
	t.Parallel()
	e := newEstate(t, statsEstate)
	e.release("api", "--version", "1")
	e.must(0, "promote", "api@1", "--to", "prod")
	e.release("api", "--version", "2")
	e.must(1, "release", "web", "--version", "1") // lands in dev, where its deploy fails

	var doc statsDoc
	jsonDoc(t, e.must(0, "stats", "-o", "json"), &doc)
	if doc.LastStage != "prod" || doc.Days != 30 || len(doc.Services) != 2 {
		t.Fatalf("stats: last stage %q, %v days, %d services; want prod, 30, 2", doc.LastStage, doc.Days, len(doc.Services))
	}
	api, web := doc.Services[0], doc.Services[1]
	if api.Service != "api" || api.Releases != 1 || api.DeploymentFrequency != 1.0/30 || api.Deployments != 3 {
		t.Errorf("api: %+v; want 1 release in prod (1/30 a day) of 3 deployments", api)
	}
	if api.LeadTimeSeconds == nil || *api.LeadTimeSeconds < 0 || api.ChangeFailureRate == nil || *api.ChangeFailureRate != 0 || api.TimeToRestore != nil {
		t.Errorf("api: lead %v, failure rate %v, restore %v; want a lead time, 0 and null", api.LeadTimeSeconds, api.ChangeFailureRate, api.TimeToRestore)
	}
	if web.Service != "web" || web.Deployments != 1 || web.Failures != 1 || web.ChangeFailureRate == nil || *web.ChangeFailureRate != 1 || web.DeploymentFrequency != 0 {
		t.Errorf("web: %+v; want one failed deployment (rate 1) and no release in prod", web)
	}

	one := statsDoc{}
	jsonDoc(t, e.must(0, "stats", "--service", "web", "--since", "7d", "-o", "json"), &one)
	if len(one.Services) != 1 || one.Services[0].Service != "web" || one.Days != 7 {
		t.Errorf("--service web --since 7d: %+v", one)
	}
	text := e.must(0, "stats").stdout
	for _, want := range []string{"DEPLOYMENT FREQUENCY", "LEAD TIME", "CHANGE FAILURE RATE", "TIME TO RESTORE", "100% (1 of 1)"} {
		if !strings.Contains(text, want) {
			t.Errorf("stats text lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range [][]string{{"--since", "soon"}, {"--since", "-3d"}, {"--service", "nope"}} {
		r := e.must(2, append([]string{"stats"}, bad...)...)
		if !strings.Contains(r.stderr, bad[0]) && !strings.Contains(r.stderr, bad[1]) {
			t.Errorf("stats %v: stderr %q does not name what is wrong", bad, r.stderr)
		}
	}
}
