package engine

import (
	"fmt"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// The gates of a direct deploy and of a rollback are plan's (plan.Gates with a Request
// kind), as a promotion's are: one set of rules, with one wording, whichever path asks.
//
// Which deployments are judged: a direct `deploy` and a `rollback` someone asks for. Not
// judged: a promotion's deployments (the promotion judged its gates before it ran), the
// automatic rollback after a failed deployment (it undoes what that deployment just did, so
// a freeze or a closed window set meanwhile does not leave the broken release running), and
// a deployment `resume` runs again (its gates were judged when it first started).

// directGates judges req, a deploy or rollback someone asked for, on f.
func (e *Engine) directGates(req DeployRequest, rel *strata.Release, f plan.Facts) []plan.Gate {
	kind := plan.KindDeploy
	if req.Kind == KindRollback {
		kind = plan.KindRollback
	}
	r := plan.Request{
		Kind: kind, Service: rel.Service, Version: rel.Version, Environment: req.Env, Requester: e.Actor,
		Override: req.OverrideWindow, OverrideFreeze: req.OverrideFreeze, OverrideBy: e.Actor, Reason: req.Reason,
	}
	return plan.Gates(e.Project, r, f)
}

// checkOverrides refuses an override without a reason, or one the kind of deployment
// cannot have: only a rollback may override a freeze.
func checkOverrides(req DeployRequest) error {
	if req.OverrideFreeze && req.Kind != KindRollback {
		return strata.Errorf(strata.EINVALID, "--override-freeze is for `rollback` only; a deploy into a frozen environment waits for `strata unfreeze`")
	}
	for _, o := range []struct {
		on   bool
		flag string
	}{{req.OverrideFreeze, "--override-freeze"}, {req.OverrideWindow, "--override-window"}} {
		if o.on && strings.TrimSpace(req.Reason) == "" {
			return strata.Errorf(strata.EINVALID, "%s needs --reason saying why (it is recorded in the audit log)", o.flag)
		}
	}
	return strata.CheckText("--reason", req.Reason)
}

// closedError is the EBLOCKED error of a deploy or rollback whose gates are not all open:
// each closed gate by name, and what would open it, in the words promotions use.
func closedError(what string, gates []plan.Gate) error {
	var parts []string
	for _, g := range plan.Closed(gates) {
		parts = append(parts, fmt.Sprintf("gate %s: %s", g.Name, g.Detail))
	}
	return strata.Errorf(strata.EBLOCKED, "%s is blocked: %s", what, strings.Join(parts, "; "))
}

// overrideDetail is what the audit event of a deployment records of the overrides it used.
func overrideDetail(req DeployRequest, detail map[string]any) {
	if req.OverrideWindow {
		detail["override_window"] = true
	}
	if req.OverrideFreeze {
		detail["override_freeze"] = true
	}
	if req.OverrideWindow || req.OverrideFreeze {
		detail["reason"] = req.Reason
	}
}

// gateOK reports whether the gate named name is among gates and holds.
func gateOK(gates []plan.Gate, name string) bool {
	for _, g := range gates {
		if g.Name == name {
			return g.OK
		}
	}
	return false
}
