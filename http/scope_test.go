package http_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/cookiejar"
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
			[]string{"dev", "staging", "prod-us", "prod-eu", "edge"},
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
			[]string{"prod-eu", "edge"},
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

// TestAScopedTokenSeesThePromotionEventsOfItsStagesOnly: promotion-level audit events name
// a stage, not an environment; a scoped token sees those of the stages that hold an
// environment it covers (as the promotions list shows it those promotions), in the API and
// on the dashboard alike, and every event of its environments.
func TestAScopedTokenSeesThePromotionEventsOfItsStagesOnly(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	eu := makeTokens(t, x.store, []testToken{{"eu-viewer", strata.RoleViewer, []map[string]string{{"region": "eu"}}}})
	x.tokens["eu-viewer"] = eu["eu-viewer"]
	x.shipViaAPI("1.0.0", "alice") // auto to dev and staging, then waiting for prod

	stagesSeen := func(who string) map[string]bool {
		t.Helper()
		r := x.do(who, "GET", "/api/v1/audit", nil)
		var evs []*strata.Event
		if err := json.Unmarshal([]byte(r.body), &evs); r.status != 200 || err != nil {
			t.Fatalf("audit as %s: %d %v %s", who, r.status, err, r.body)
		}
		seen := map[string]bool{}
		for _, e := range evs {
			if st := report.EventStage(e); st != "" {
				seen["stage "+st] = true
			}
			if e.Environment != "" {
				seen["env "+e.Environment] = true
			}
		}
		return seen
	}
	cases := []struct {
		name, who string
		want      []string
		notWant   []string
	}{
		{"an unscoped viewer sees every stage's promotion events", "victor",
			[]string{"stage dev", "stage staging", "stage prod", "env dev", "env staging"}, nil},
		{"a token scoped to tier=dev sees only the dev stage's", "dave",
			[]string{"stage dev", "env dev"}, []string{"stage staging", "stage prod", "env staging"}},
		{"a token scoped to region=eu sees the prod stage's, where prod-eu is", "eu-viewer",
			[]string{"stage prod"}, []string{"stage dev", "stage staging", "env dev", "env staging"}},
	}
	t.Run("the dashboard's audit page shows a token scoped to tier=dev only the dev stage's", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		b := &browser{t: t, url: x.url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
		if res, _ := b.loginWith(x.tokens["dave"]); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", res.StatusCode)
		}
		_, page := b.get("/audit")
		stage := func(name string) string { return html.EscapeString(`"stage":"` + name + `"`) }
		if !strings.Contains(page, stage("dev")) || strings.Contains(page, stage("staging")) || strings.Contains(page, stage("prod")) {
			t.Errorf("the page does not show only the dev stage's events:\n%s", page)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := stagesSeen(tc.who)
			for _, w := range tc.want {
				if !seen[w] {
					t.Errorf("no event of %s; saw %v", w, seen)
				}
			}
			for _, w := range tc.notWant {
				if seen[w] {
					t.Errorf("an event of %s is shown; saw %v", w, seen)
				}
			}
		})
	}
}
