package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

func TestSwitchGates(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) // a Monday
	blue := &strata.Environment{Name: "blue"}
	green := &strata.Environment{Name: "green", Policy: strata.Policy{Windows: []strata.Window{window(t, "Mon-Fri 09:00-17:00 UTC")}}}
	p := &strata.Project{Name: "shop", Environments: []*strata.Environment{blue, green}}
	g := &strata.Group{Name: "shop-us", Environments: []string{"blue", "green"}, Live: "blue", Policy: strata.Policy{Approvals: intp(1)}}
	req := func(kind string, approvals ...string) plan.SwitchRequest {
		r := plan.SwitchRequest{ID: "sw-1", Group: g, From: "blue", To: "green", Kind: kind, Requester: "alice", Reason: "us-east is down"}
		for _, a := range approvals {
			r.Approvals = append(r.Approvals, strata.Approval{Principal: a})
		}
		return r
	}
	facts := func(at time.Time, unhealthy, drift []string, frozen bool) plan.SwitchFacts {
		f := plan.SwitchFacts{Facts: plan.Facts{Now: at, Frozen: map[string]*strata.Freeze{}}, Unhealthy: unhealthy, Drift: drift}
		if frozen {
			f.Frozen["green"] = &strata.Freeze{Environment: "green", Actor: "carol", Reason: "audit"}
		}
		return f
	}
	cases := []struct {
		name   string
		r      plan.SwitchRequest
		f      plan.SwitchFacts
		closed []string // the names of the closed gates
		detail string   // a fragment of the first closed gate's detail
	}{
		{"an approved switch to a healthy standby inside its window opens every gate", req(strata.KindSwitch, "bob"), facts(now, nil, nil, false), nil, ""},
		{"the requester's own approval does not count", req(strata.KindSwitch, "alice"), facts(now, nil, nil, false), []string{"approvals"}, "someone other than alice runs `strata approve sw-1`"},
		{"a standby with an unhealthy service closes the health gate", req(strata.KindSwitch, "bob"), facts(now, []string{"api is not deployed in green"}, nil, false), []string{"health"}, "api is not deployed in green"},
		{"config drift in the standby closes the drift gate", req(strata.KindSwitch, "bob"), facts(now, nil, []string{"api: PORT differs"}, false), []string{"drift"}, "deploy again to green"},
		{"a frozen standby closes the freeze gate", req(strata.KindSwitch, "bob"), facts(now, nil, nil, true), []string{"freeze"}, "green is frozen by carol"},
		{"a switch outside the standby's window closes the window gate", req(strata.KindSwitch, "bob"), facts(now.Add(8*time.Hour), nil, nil, false), []string{"window"}, "green is outside its deploy windows"},
		{"a failover skips health, drift and approvals", req(strata.KindFailover), facts(now, []string{"api is down"}, []string{"drift"}, false), nil, ""},
		{"a failover still respects a freeze", req(strata.KindFailover), facts(now, []string{"api is down"}, nil, true), []string{"freeze"}, "frozen"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gates := plan.SwitchGates(p, c.r, c.f)
			var names []string
			for _, g := range gates {
				names = append(names, g.Name)
			}
			if got, want := strings.Join(names, ","), "health,drift,approvals,window,freeze"; got != want {
				t.Fatalf("gates %s, want %s", got, want)
			}
			var closed []string
			for _, g := range plan.Closed(gates) {
				closed = append(closed, g.Name)
			}
			if strings.Join(closed, ",") != strings.Join(c.closed, ",") {
				t.Fatalf("closed gates %v, want %v: %+v", closed, c.closed, gates)
			}
			if c.detail != "" && !strings.Contains(plan.Closed(gates)[0].Detail, c.detail) {
				t.Fatalf("detail %q, want it to contain %q", plan.Closed(gates)[0].Detail, c.detail)
			}
			if c.r.Kind == strata.KindFailover && !strings.Contains(gates[0].Detail, "skipped: failover by alice (us-east is down)") {
				t.Fatalf("a failover's health gate says %q, want who and why it was skipped", gates[0].Detail)
			}
		})
	}
	if !plan.OnlyApprovalsClosed(plan.SwitchGates(p, req(strata.KindSwitch), facts(now, nil, nil, false))) {
		t.Fatal("an unapproved switch with every other gate open should wait for approvals only")
	}
}
