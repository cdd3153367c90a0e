package plan

import (
	"fmt"
	"strings"

	"github.com/strata-dev/strata"
)

// Gate names of a switch, beside GateApprovals, GateWindow and GateFreeze.
const (
	GateHealth = "health"
	GateDrift  = "drift"
)

// SwitchRequest is a move of a group's traffic to judge.
type SwitchRequest struct {
	ID        string
	Group     *strata.Group
	From, To  string
	Kind      string // strata.KindSwitch or strata.KindFailover
	Requester string
	Reason    string
	Approvals []strata.Approval
}

// SwitchFacts is what the gates of a switch depend on: Facts (the clock and the freezes)
// and what the engine found by looking at To now.
type SwitchFacts struct {
	Facts
	// Unhealthy lists, as sentences, the services that do not run healthy in To: not
	// deployed there, or failing their health check.
	Unhealthy []string
	// Drift lists, as sentences, To's config drift (the files resolve to other values than
	// were deployed there).
	Drift []string
}

// SwitchGates evaluates every gate of r, all of them, in a fixed order: health, drift,
// approvals (the group's policy), window and freeze (To's). A failover skips the health and
// drift gates, which the side that is down cannot pass, and the approvals, which its role
// (admin or approver) stands in for; its gates say so.
func SwitchGates(p *strata.Project, r SwitchRequest, f SwitchFacts) []Gate {
	failover := r.Kind == strata.KindFailover
	skipped := func(name, why string) Gate {
		return Gate{Name: name, OK: true, Detail: fmt.Sprintf("skipped: failover by %s (%s); %s", r.Requester, r.Reason, why)}
	}
	var gates []Gate
	if failover {
		gates = append(gates,
			skipped(GateHealth, "the side that is down cannot pass it"),
			skipped(GateDrift, "the side that is down cannot pass it"),
			skipped(GateApprovals, "its admin or approver role stands in for approvals"))
	} else {
		gates = append(gates, switchHealthGate(r, f), switchDriftGate(r, f), switchApprovalsGate(r))
	}
	// To's windows and freeze are judged as a promotion into a stage of To alone would be.
	one := &strata.Stage{Name: "switch " + r.Group.Name, Environments: []string{r.To}}
	for _, g := range Gates(p, Request{ID: r.ID, Stage: one, Requester: r.Requester}, f.Facts) {
		if g.Name == GateWindow || g.Name == GateFreeze {
			gates = append(gates, g)
		}
	}
	return gates
}

func switchHealthGate(r SwitchRequest, f SwitchFacts) Gate {
	if len(f.Unhealthy) > 0 {
		return Gate{Name: GateHealth, Detail: strings.Join(f.Unhealthy, "; ")}
	}
	return Gate{Name: GateHealth, OK: true, Detail: fmt.Sprintf("every service runs healthy in %s", r.To)}
}

func switchDriftGate(r SwitchRequest, f SwitchFacts) Gate {
	if len(f.Drift) > 0 {
		return Gate{Name: GateDrift, Detail: strings.Join(f.Drift, "; ") + fmt.Sprintf("; deploy again to %s, or put strata.yaml back", r.To)}
	}
	return Gate{Name: GateDrift, OK: true, Detail: fmt.Sprintf("no config drift in %s", r.To)}
}

func switchApprovalsGate(r SwitchRequest) Gate {
	return approvals(r.Group.Policy.ApprovalsNeeded(), r.ID, r.Requester, r.Approvals)
}

// OnlyApprovalsClosed reports whether the approvals gate is the one gate of gates that does
// not hold: a switch then waits for approvals, where any other closed gate refuses it.
func OnlyApprovalsClosed(gates []Gate) bool {
	closed := Closed(gates)
	return len(closed) == 1 && closed[0].Name == GateApprovals
}
