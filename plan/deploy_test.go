package plan_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// TestDirectGates judges a direct deploy and a rollback into prod-us with plan's rules: the
// same gate names and wording as a promotion's, and each kind's own set of gates.
func TestDirectGates(t *testing.T) {
	all := []string{"dev", "staging", "prod-us", "prod-eu"}
	closedWindow := strata.Policy{Windows: []strata.Window{window(t, "Tue-Fri 09:00-17:00 UTC")}}
	frozen := func() plan.Facts {
		f := facts(now, nil, all)
		f.Frozen["prod-us"] = &strata.Freeze{Environment: "prod-us", Reason: "black friday", Actor: "cy"}
		return f
	}
	tests := []struct {
		name     string
		kind     string
		policy   strata.Policy
		facts    plan.Facts
		req      func(r *plan.Request)
		gate     string
		ok       bool
		mentions string
	}{
		{"a deploy needing approvals points at a one-environment promotion", plan.KindDeploy, strata.Policy{Approvals: intp(1)}, facts(now, nil, all), nil, plan.GateApprovals, false, "--only prod-us"},
		{"a deploy whose promotion is open names it", plan.KindDeploy, strata.Policy{Approvals: intp(1)}, facts(now, nil, all), func(r *plan.Request) { r.ID = "p-7" }, plan.GateApprovals, false, "strata approve p-7"},
		{"a deploy with no approvals required passes that gate", plan.KindDeploy, strata.Policy{}, facts(now, nil, all), nil, plan.GateApprovals, true, "no approvals required"},
		{"a deploy outside its window says when it opens", plan.KindDeploy, closedWindow, facts(now, nil, all), nil, plan.GateWindow, false, "prod-us is outside its deploy windows until 2026-11-24T09:00:00Z"},
		{"a deploy into a frozen environment is held by the freeze", plan.KindDeploy, strata.Policy{}, frozen(), nil, plan.GateFreeze, false, "prod-us is frozen by cy (black friday); `strata unfreeze prod-us` reopens it"},
		{"a deploy cannot override a freeze", plan.KindDeploy, strata.Policy{}, frozen(), func(r *plan.Request) { r.OverrideFreeze, r.Reason = true, "x" }, plan.GateFreeze, false, "frozen by cy"},
		{"a deploy without its dependency is held by it", plan.KindDeploy, strata.Policy{}, facts(now, nil, []string{"prod-eu"}), nil, plan.GateDependencies, false, "db, which is not deployed in prod-us"},
		{"a deploy with its dependency healthy passes", plan.KindDeploy, strata.Policy{}, facts(now, nil, all), nil, plan.GateDependencies, true, "db deployed and healthy"},
		{"a rollback into a frozen environment is held by the freeze", plan.KindRollback, strata.Policy{}, frozen(), nil, plan.GateFreeze, false, "--override-freeze --reason"},
		{"a rollback may override a freeze, saying who and why", plan.KindRollback, strata.Policy{}, frozen(), func(r *plan.Request) {
			r.OverrideFreeze, r.OverrideBy, r.Reason = true, "ann", "bad release"
		}, plan.GateFreeze, true, "freeze overridden by ann: bad release"},
		{"a rollback outside its window is held by it", plan.KindRollback, closedWindow, facts(now, nil, all), nil, plan.GateWindow, false, "--override-window --reason"},
		{"a rollback may override a window", plan.KindRollback, closedWindow, facts(now, nil, all), func(r *plan.Request) {
			r.Override, r.OverrideBy, r.Reason = true, "ann", "outage"
		}, plan.GateWindow, true, "window overridden by ann: outage"},
		{"a run waits for its runbook's approvals, not its environment's", plan.KindRun, strata.Policy{}, facts(now, nil, all), func(r *plan.Request) {
			r.Task, r.ID = "rotate", "t-3"
		}, plan.GateApprovals, false, "0 of 1 approvals; someone other than ann runs `strata approve t-3`"},
		{"a run of a runbook needing none passes though its environment needs some", plan.KindRun, strata.Policy{Approvals: intp(2)}, facts(now, nil, all), func(r *plan.Request) {
			r.Task = "reindex"
		}, plan.GateApprovals, true, "no approvals required"},
		{"a run approved by someone else passes", plan.KindRun, strata.Policy{}, facts(now, nil, all), func(r *plan.Request) {
			r.Task, r.Approvals = "rotate", []strata.Approval{{Principal: "ann"}, {Principal: "bob"}}
		}, plan.GateApprovals, true, "approved by bob"},
		{"a run into a frozen environment is held by the freeze", plan.KindRun, strata.Policy{}, frozen(), func(r *plan.Request) { r.Task = "reindex" },
			plan.GateFreeze, false, "prod-us is frozen by cy (black friday); `strata unfreeze prod-us` reopens it"},
		{"a rollback inside its window passes", plan.KindRollback, strata.Policy{}, facts(now, nil, all), nil, plan.GateWindow, true, "inside every deploy window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := estate(tt.policy)
			r := plan.Request{Kind: tt.kind, Service: "api", Version: "2", Environment: "prod-us", Requester: "ann"}
			if tt.req != nil {
				tt.req(&r)
			}
			g := gate(plan.Gates(p, r, tt.facts), tt.gate)
			if g.OK != tt.ok || !strings.Contains(g.Detail, tt.mentions) {
				t.Errorf("gate %s = {ok: %v, %q}; want ok %v mentioning %q", tt.gate, g.OK, g.Detail, tt.ok, tt.mentions)
			}
		})
	}
}

func TestEachKindJudgesItsOwnGates(t *testing.T) {
	p := estate(strata.Policy{})
	f := facts(now, nil, nil)
	names := func(gs []plan.Gate) string {
		var out []string
		for _, g := range gs {
			out = append(out, g.Name)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name string
		req  plan.Request
		want string
	}{
		{"a promotion judges all seven", plan.Request{Service: "api", Version: "2", Stage: p.Stage("prod")}, "previous-stage soak approvals window freeze dependencies recall"},
		{"a direct deploy judges what does not compare stages", plan.Request{Kind: plan.KindDeploy, Service: "api", Version: "2", Environment: "prod-us"}, "approvals window freeze dependencies"},
		{"a run judges its runbook's approvals and the freeze, never a window", plan.Request{Kind: plan.KindRun, Service: "api", Task: "rotate", Environment: "prod-us"}, "approvals freeze"},
		{"a rollback judges the freeze and the window", plan.Request{Kind: plan.KindRollback, Service: "api", Version: "1", Environment: "prod-us"}, "window freeze"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(plan.Gates(p, tt.req, f)); got != tt.want {
				t.Errorf("gates = %q; want %q", got, tt.want)
			}
		})
	}
	// DeployGates is the deploy kind's Gates.
	if got := names(plan.DeployGates(p, "api", "2", "prod-us", "ann", f)); got != "approvals window freeze dependencies" {
		t.Errorf("DeployGates = %q", got)
	}
}
