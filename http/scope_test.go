package http_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// TestAScopedTokenSeesOnlyItsScope: validate shows a token scoped to some environments
// only those, and the stages that hold them with only those; /metrics, whose counts are the
// whole estate's, refuses it (403, audited) and tells it what token would do.
func TestAScopedTokenSeesOnlyItsScope(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	eu := makeTokens(t, x.store, []testToken{{"eu-viewer", strata.RoleViewer, []map[string]string{{"region": "eu"}}}})
	x.tokens["eu-viewer"] = eu["eu-viewer"]
	x.shipViaAPI("1.0.0", "alice")

	validate := []struct {
		name       string
		who        string
		wantEnvs   []string
		wantStages []report.Stage
		wantScope  []string
	}{
		{"an unscoped viewer sees every environment and stage", "victor",
			[]string{"dev", "staging", "prod-us", "prod-eu"},
			[]report.Stage{
				{Name: "dev", Environments: []string{"dev"}, Waves: [][]string{{"dev"}}, Auto: true},
				{Name: "staging", Environments: []string{"staging"}, Waves: [][]string{{"staging"}}, Auto: true},
				{Name: "prod", Environments: []string{"prod-us", "prod-eu"}, Waves: [][]string{{"prod-us", "prod-eu"}}},
			}, nil},
		{"a token scoped to tier=dev sees dev and its stage only", "dave",
			[]string{"dev"},
			[]report.Stage{{Name: "dev", Environments: []string{"dev"}, Waves: [][]string{{"dev"}}, Auto: true}},
			[]string{"tier=dev"}},
		{"a token scoped to region=eu sees prod-eu alone in the prod stage", "eu-viewer",
			[]string{"prod-eu"},
			[]report.Stage{{Name: "prod", Environments: []string{"prod-eu"}, Waves: [][]string{{"prod-eu"}}}},
			[]string{"region=eu"}},
	}
	for _, tc := range validate {
		t.Run("validate: "+tc.name, func(t *testing.T) {
			r := x.do(tc.who, "GET", "/api/v1/validate", nil)
			var doc report.Validation
			if err := json.Unmarshal([]byte(r.body), &doc); r.status != 200 || err != nil {
				t.Fatalf("status %d (%v): %s", r.status, err, r.body)
			}
			if got, want := doc.Environments, tc.wantEnvs; !reflect.DeepEqual(got, want) {
				t.Errorf("environments %v, want %v", got, want)
			}
			if got, want := doc.Stages, tc.wantStages; !reflect.DeepEqual(got, want) {
				t.Errorf("stages %+v, want %+v", got, want)
			}
			if got, want := doc.Scope, tc.wantScope; !reflect.DeepEqual(got, want) {
				t.Errorf("scope %v, want %v", got, want)
			}
		})
	}

	metrics := []struct {
		name, who  string
		wantStatus int
	}{
		{"an unscoped viewer reads /metrics", "victor", 200},
		{"a token scoped to tier=dev is refused /metrics", "dave", 403},
		{"an admin scoped to dev is refused /metrics", "dora", 403},
	}
	for _, tc := range metrics {
		t.Run(tc.name, func(t *testing.T) {
			r := x.do(tc.who, "GET", "/metrics", nil)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if tc.wantStatus == 200 {
				return
			}
			if strings.Contains(r.body, "strata_deployments") {
				t.Errorf("the refusal holds metrics: %s", r.body)
			}
			msg, _ := r.json(t)["error"].(map[string]any)["message"].(string)
			if !strings.Contains(msg, "whole estate") || !strings.Contains(msg, "without --envs") {
				t.Errorf("message %q does not say what token would do", msg)
			}
			evs, err := x.store.Events(t.Context(), strata.EventFilter{Action: "request.denied", Actor: tc.who})
			if err != nil || len(evs) == 0 || !strings.Contains(string(evs[len(evs)-1].Detail), "/metrics") {
				t.Errorf("no request.denied event for %s on /metrics (%v)", tc.who, err)
			}
		})
	}
}
