package plan_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

func intp(n int) *int { return &n }

func durp(d time.Duration) *strata.Duration { x := strata.Duration(d); return &x }

func window(t *testing.T, spec string) strata.Window {
	t.Helper()
	w, err := strata.ParseWindow(spec)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// estate is dev -> staging -> prod (prod-us, prod-eu), with api depending on db.
func estate(prodPolicy strata.Policy) *strata.Project {
	env := func(name string, labels map[string]string, pol strata.Policy) *strata.Environment {
		return &strata.Environment{Name: name, Labels: labels, Policy: pol}
	}
	return &strata.Project{
		Name: "shop",
		Environments: []*strata.Environment{
			env("dev", map[string]string{"tier": "dev"}, strata.Policy{}),
			env("staging", map[string]string{"tier": "staging"}, strata.Policy{}),
			env("prod-us", map[string]string{"tier": "prod"}, prodPolicy),
			env("prod-eu", map[string]string{"tier": "prod"}, prodPolicy),
		},
		Services: []*strata.Service{
			{Name: "db"},
			{Name: "api", DependsOn: []string{"db"}, Runbooks: map[string]*strata.Runbook{
				"rotate": {Name: "rotate", Approvals: 1}, "reindex": {Name: "reindex"}}},
		},
		Pipeline: []*strata.Stage{
			{Name: "dev", Environments: []string{"dev"}, Auto: true},
			{Name: "staging", Environments: []string{"staging"}},
			{Name: "prod", Environments: []string{"prod-us", "prod-eu"}, Waves: 1},
		},
	}
}

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) // a Monday

// facts says api@2 and db@1 run healthy where listed, api@2 since `since`.
func facts(since time.Time, apiIn []string, dbIn []string) plan.Facts {
	f := plan.Facts{Now: now, Current: map[plan.Pair]*strata.Deployment{}, HealthySince: map[plan.Pair]map[string]time.Time{}, Frozen: map[string]*strata.Freeze{}}
	put := func(svc, ver, env string) {
		k := plan.Pair{Service: svc, Environment: env}
		f.Current[k] = &strata.Deployment{Service: svc, Environment: env, Version: ver, State: strata.Succeeded, Health: strata.Healthy, FinishedAt: since}
		f.HealthySince[k] = map[string]time.Time{ver: since}
	}
	for _, e := range apiIn {
		put("api", "2", e)
	}
	for _, e := range dbIn {
		put("db", "1", e)
	}
	return f
}

func gate(gates []plan.Gate, name string) plan.Gate {
	for _, g := range gates {
		if g.Name == name {
			return g
		}
	}
	return plan.Gate{Name: "missing"}
}

func TestGates(t *testing.T) {
	all := []string{"dev", "staging", "prod-us", "prod-eu"}
	tests := []struct {
		name     string
		policy   strata.Policy
		facts    plan.Facts
		req      func(r *plan.Request)
		stage    string
		gate     string
		ok       bool
		mentions string
	}{
		{"the first stage has no previous stage to wait for", strata.Policy{}, facts(now, nil, all), nil, "dev", plan.GatePrevious, true, "first stage"},
		{"a release not yet healthy in staging cannot enter prod", strata.Policy{}, facts(now, []string{"dev"}, all), nil, "prod", plan.GatePrevious, false, "staging/staging"},
		{"a release healthy in every earlier stage may enter prod", strata.Policy{}, facts(now, []string{"dev", "staging"}, all), nil, "prod", plan.GatePrevious, true, "healthy"},
		{"a soak not yet served says when it ends", strata.Policy{Soak: durp(30 * time.Minute)}, facts(now.Add(-10*time.Minute), []string{"dev", "staging"}, all), nil, "prod", plan.GateSoak, false, "in 20m"},
		{"a soak served opens the gate", strata.Policy{Soak: durp(30 * time.Minute)}, facts(now.Add(-31*time.Minute), []string{"dev", "staging"}, all), nil, "prod", plan.GateSoak, true, "needs 30m"},
		{"approvals are missing until someone approves", strata.Policy{Approvals: intp(1)}, facts(now, nil, all), func(r *plan.Request) { r.ID = "p-1" }, "prod", plan.GateApprovals, false, "strata approve p-1"},
		{"the requester's own approval does not count", strata.Policy{Approvals: intp(1)}, facts(now, nil, all), func(r *plan.Request) {
			r.Approvals = []strata.Approval{{Principal: "ann"}}
		}, "prod", plan.GateApprovals, false, "0 of 1"},
		{"one principal approving twice counts once", strata.Policy{Approvals: intp(2)}, facts(now, nil, all), func(r *plan.Request) {
			r.Approvals = []strata.Approval{{Principal: "bo"}, {Principal: "bo"}}
		}, "prod", plan.GateApprovals, false, "1 of 2"},
		{"distinct approvers open the gate", strata.Policy{Approvals: intp(2)}, facts(now, nil, all), func(r *plan.Request) {
			r.Approvals = []strata.Approval{{Principal: "bo"}, {Principal: "cy"}}
		}, "prod", plan.GateApprovals, true, "bo, cy"},
		{"a closed window names when it opens", strata.Policy{Windows: []strata.Window{window(t, "Tue-Fri 09:00-17:00 UTC")}}, facts(now, nil, all), nil, "prod", plan.GateWindow, false, "2026-11-24T09:00:00Z"},
		{"an open window holds", strata.Policy{Windows: []strata.Window{window(t, "Mon-Fri 09:00-17:00 UTC")}}, facts(now, nil, all), nil, "prod", plan.GateWindow, true, "inside"},
		{"a window is read in its own time zone", strata.Policy{Windows: []strata.Window{window(t, "Mon-Fri 09:00-17:00 America/New_York")}}, facts(now, nil, all), nil, "prod", plan.GateWindow, false, "outside"},
		{"an override opens a closed window and says who and why", strata.Policy{Windows: []strata.Window{window(t, "Tue-Fri 09:00-17:00 UTC")}}, facts(now, nil, all), func(r *plan.Request) {
			r.Override, r.OverrideBy, r.Reason = true, "ann", "hotfix"
		}, "prod", plan.GateWindow, true, "overridden by ann: hotfix"},
		{"a frozen environment closes the gate and says how to reopen it", strata.Policy{}, func() plan.Facts {
			f := facts(now, nil, all)
			f.Frozen["prod-eu"] = &strata.Freeze{Environment: "prod-eu", Reason: "audit", Actor: "cy"}
			return f
		}(), nil, "prod", plan.GateFreeze, false, "strata unfreeze prod-eu"},
		{"a dependency missing in a target environment closes the gate", strata.Policy{}, facts(now, nil, []string{"prod-us"}), nil, "prod", plan.GateDependencies, false, "db, which is not deployed in prod-eu"},
		{"dependencies present everywhere hold", strata.Policy{}, facts(now, nil, all), nil, "prod", plan.GateDependencies, true, "db deployed"},
		{"a release nobody recalled passes the recall gate", strata.Policy{}, facts(now, nil, all), nil, "prod", plan.GateRecall, true, "api@2 is not recalled"},
		{"a recalled release closes the recall gate naming who and why", strata.Policy{}, func() plan.Facts {
			f := facts(now, nil, all)
			f.Recalls = map[plan.Ref]*strata.Recall{{Service: "api", Version: "2"}: {By: "cy", Reason: "corrupts carts", At: now}}
			return f
		}(), nil, "prod", plan.GateRecall, false, "recalled by cy at 2026-11-23T"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := estate(tt.policy)
			r := plan.Request{Service: "api", Version: "2", Stage: p.Stage(tt.stage), Requester: "ann"}
			if tt.req != nil {
				tt.req(&r)
			}
			gates := plan.Gates(p, r, tt.facts)
			if len(gates) != 7 {
				t.Fatalf("got %d gates, want all 7 evaluated", len(gates))
			}
			g := gate(gates, tt.gate)
			if g.OK != tt.ok || !strings.Contains(g.Detail, tt.mentions) {
				t.Errorf("gate %s = {ok: %v, %q}; want ok %v mentioning %q", tt.gate, g.OK, g.Detail, tt.ok, tt.mentions)
			}
		})
	}
}

func TestWaves(t *testing.T) {
	envs := []string{"a", "b", "c", "d", "e"}
	tests := []struct {
		name  string
		stage strata.Stage
		want  [][]string
	}{
		{"no waves deploys every environment at once", strata.Stage{Environments: envs}, [][]string{envs}},
		{"waves: 1 deploys one at a time in declaration order", strata.Stage{Environments: envs, Waves: 1}, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}}},
		{"waves: 2 leaves the remainder in a last, smaller wave", strata.Stage{Environments: envs, Waves: 2}, [][]string{{"a", "b"}, {"c", "d"}, {"e"}}},
		{"more waves than environments is one wave", strata.Stage{Environments: envs, Waves: 9}, [][]string{envs}},
		{"named waves win", strata.Stage{Environments: envs, Waves: 1, WaveLists: [][]string{{"e"}, {"a", "b", "c", "d"}}}, [][]string{{"e"}, {"a", "b", "c", "d"}}},
		{"a stage with no environments has no waves", strata.Stage{}, [][]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := plan.Waves(&tt.stage); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Waves = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestNextStage(t *testing.T) {
	p := estate(strata.Policy{})
	tests := []struct {
		name   string
		apiIn  []string
		wanted string
	}{
		{"a new release goes to the first stage", nil, "dev"},
		{"a release healthy in dev goes to staging", []string{"dev"}, "staging"},
		{"a release healthy in one of two prod environments goes to prod", []string{"dev", "staging", "prod-us"}, "prod"},
		{"a release healthy everywhere has no next stage", []string{"dev", "staging", "prod-us", "prod-eu"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if s := plan.NextStage(p, "api", "2", facts(now, tt.apiIn, nil)); s != nil {
				got = s.Name
			}
			if got != tt.wanted {
				t.Errorf("NextStage = %q; want %q", got, tt.wanted)
			}
		})
	}
}

func TestOpenIsTrueOnlyWhenEveryGateHolds(t *testing.T) {
	if !plan.Open([]plan.Gate{{OK: true}, {OK: true}}) {
		t.Error("all open: want Open true")
	}
	if plan.Open([]plan.Gate{{OK: true}, {Name: "x", OK: false}}) {
		t.Error("one closed: want Open false")
	}
	if got := plan.Closed([]plan.Gate{{Name: "a", OK: true}, {Name: "b"}}); len(got) != 1 || got[0].Name != "b" {
		t.Errorf("Closed = %v; want only b", got)
	}
}
