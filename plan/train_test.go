package plan_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// TestATrainIsJudgedOnceForEveryMember judges a train of api@2 and db@1 into prod: one set of
// gates, each asking its question of every member.
func TestATrainIsJudgedOnceForEveryMember(t *testing.T) {
	train := []strata.Member{{Service: "api", Version: "2"}, {Service: "db", Version: "1"}}
	everywhereBut := func(f plan.Facts, svc, env string) plan.Facts {
		delete(f.HealthySince, plan.Pair{Service: svc, Environment: env})
		delete(f.Current, plan.Pair{Service: svc, Environment: env})
		return f
	}
	all := []string{"dev", "staging", "prod-us", "prod-eu"}
	tests := []struct {
		name     string
		policy   strata.Policy
		facts    plan.Facts
		gate     string
		ok       bool
		mentions string
	}{
		{"a member not yet healthy in staging holds the train, naming it", strata.Policy{}, everywhereBut(facts(now, all, all), "db", "staging"), plan.GatePrevious, false, "db@1 is not yet healthy in staging/staging"},
		{"every member healthy in every earlier stage opens it", strata.Policy{}, facts(now, all, all), plan.GatePrevious, true, "healthy in every environment of staging"},
		{"the soak counts from the last member to turn healthy", strata.Policy{Soak: durp(30 * time.Minute)}, func() plan.Facts {
			f := facts(now.Add(-time.Hour), all, all)
			f.HealthySince[plan.Pair{Service: "db", Environment: "staging"}]["1"] = now.Add(-10 * time.Minute)
			return f
		}(), plan.GateSoak, false, "in 20m"},
		{"one approval serves the whole train", strata.Policy{Approvals: intp(1)}, facts(now, all, all), plan.GateApprovals, false, "0 of 1 approvals"},
		{"a dependency that rides in the train does not hold it", strata.Policy{}, facts(now, all, nil), plan.GateDependencies, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := estate(tt.policy)
			r := plan.Request{ID: "p-9", Service: "api", Version: "2", Members: train, Stage: p.Stage("prod"), Requester: "ann"}
			gates := plan.Gates(p, r, tt.facts)
			if len(gates) != 6 {
				t.Fatalf("got %d gates, want one set of 6", len(gates))
			}
			g := gate(gates, tt.gate)
			if g.OK != tt.ok || !strings.Contains(g.Detail, tt.mentions) {
				t.Errorf("gate %s = {ok: %v, %q}; want ok %v mentioning %q", tt.gate, g.OK, g.Detail, tt.ok, tt.mentions)
			}
		})
	}
}

func TestTrainOrder(t *testing.T) {
	p := estate(strata.Policy{})
	p.Services = append(p.Services, &strata.Service{Name: "web", DependsOn: []string{"api"}}, &strata.Service{Name: "docs"})
	m := func(s string) strata.Member { return strata.Member{Service: s, Version: "1"} }
	tests := []struct {
		name string
		in   []strata.Member
		want []strata.Member
	}{
		{"a dependency asked for second deploys first", []strata.Member{m("api"), m("db")}, []strata.Member{m("db"), m("api")}},
		{"a chain deploys from its root", []strata.Member{m("web"), m("api"), m("db")}, []strata.Member{m("db"), m("api"), m("web")}},
		{"members that depend on none keep the order asked", []strata.Member{m("docs"), m("db")}, []strata.Member{m("docs"), m("db")}},
		{"a dependency outside the train does not hold a member back", []strata.Member{m("web"), m("docs")}, []strata.Member{m("web"), m("docs")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := plan.TrainOrder(p, tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TrainOrder = %v; want %v", got, tt.want)
			}
		})
	}
}
