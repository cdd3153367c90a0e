package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/suggest"
	"github.com/strata-dev/strata/plan"
)

// SwitchRequest asks to move a group's traffic to one of its members.
type SwitchRequest struct {
	Group string
	// To is the member that becomes live; a failover may leave it empty for the group's
	// first standby.
	To     string
	Reason string
	// Failover skips the health, drift and approvals gates (a break-glass move off a live
	// side that is down); it needs a Reason.
	Failover bool
}

// SwitchResult is a switch (recorded, or as it would be) with its gates judged now.
type SwitchResult struct {
	Switch *strata.Switch
	Gates  []plan.Gate
	// Unchanged says To is live already: nothing was done.
	Unchanged bool
}

// SwitchRefused is the state a switch's document has when a closed gate other than
// approvals refused it: it was not recorded (the store has no such state).
const SwitchRefused = "refused"

// target resolves req's group, the live member and the member to move to. An unknown group
// is ENOTFOUND; a --to that is no member is EINVALID naming the flag.
func (e *Engine) switchTarget(ctx context.Context, req SwitchRequest) (*strata.Group, string, string, error) {
	g := e.Project.Group(req.Group)
	if g == nil {
		if len(e.Project.Groups) == 0 {
			return nil, "", "", strata.Errorf(strata.ENOTFOUND, "unknown group %q: strata.yaml declares no groups; see docs/configuration.md#groups", req.Group)
		}
		return nil, "", "", notFound("group", req.Group, e.Project.GroupNames())
	}
	live, err := e.Live(ctx)
	if err != nil {
		return nil, "", "", err
	}
	from, to := live[g.Name], req.To
	if to == "" {
		if !req.Failover {
			return nil, "", "", strata.Errorf(strata.EINVALID, "switch %s needs --to ENV, one of %s (%s is live)", g.Name, strings.Join(g.Standby(from), ", "), from)
		}
		to = g.Standby(from)[0]
	}
	if !g.Has(to) {
		return nil, "", "", strata.Errorf(strata.EINVALID, "--to %s: %s", to, suggest.Unknown("member of group "+g.Name, to, g.Environments))
	}
	return g, from, to, nil
}

// switchFacts gathers what the gates of a switch to env read: the clock, the freezes, and
// (for a switch, not a failover) every service of the group's members checked in env now,
// and env's config drift.
func (e *Engine) switchFacts(ctx context.Context, g *strata.Group, to string, failover bool) (plan.SwitchFacts, error) {
	f := plan.SwitchFacts{Facts: e.noFacts()}
	f.Now = e.now()
	if err := e.readFreezes(ctx, f.Facts); err != nil {
		return f, err
	}
	if failover {
		return f, nil
	}
	cur, err := e.currentFacts(ctx, "")
	if err != nil {
		return f, err
	}
	for _, svc := range e.Project.Services {
		inGroup := slices.ContainsFunc(g.Environments, func(m string) bool {
			return cur.Current[plan.Pair{Service: svc.Name, Environment: m}] != nil
		})
		if !inGroup {
			continue
		}
		d := cur.Current[plan.Pair{Service: svc.Name, Environment: to}]
		switch {
		case d == nil:
			f.Unhealthy = append(f.Unhealthy, fmt.Sprintf("%s runs in group %s but is not deployed in %s; deploy it there first", svc.Name, g.Name, to))
		case d.Health == strata.Unhealthy:
			f.Unhealthy = append(f.Unhealthy, fmt.Sprintf("%s@%s is unhealthy in %s", svc.Name, d.Version, to))
		case svc.Health != nil:
			c, err := e.Recheck(ctx, d, cur.Current)
			if err != nil {
				f.Unhealthy = append(f.Unhealthy, fmt.Sprintf("%s's health check in %s could not run: %v", svc.Name, to, err))
			} else if c.Health == strata.Unhealthy {
				f.Unhealthy = append(f.Unhealthy, fmt.Sprintf("%s@%s fails its health check in %s: %s", svc.Name, d.Version, to, c.Detail))
			}
		}
	}
	for _, svc := range e.Project.Services {
		d := cur.Current[plan.Pair{Service: svc.Name, Environment: to}]
		if d == nil {
			continue
		}
		rs, err := e.resolveNow(svc, d, cur)
		if err != nil {
			f.Drift = append(f.Drift, fmt.Sprintf("%s: cannot resolve the config now: %v", svc.Name, err))
		} else if keys, detail := configDiff(d.Config, rs); len(keys) > 0 {
			f.Drift = append(f.Drift, fmt.Sprintf("%s: %s", svc.Name, detail))
		}
	}
	return f, nil
}

func (e *Engine) switchGates(ctx context.Context, g *strata.Group, sw *strata.Switch) ([]plan.Gate, error) {
	f, err := e.switchFacts(ctx, g, sw.To, sw.Kind == strata.KindFailover)
	if err != nil {
		return nil, err
	}
	return plan.SwitchGates(e.Project, plan.SwitchRequest{ID: sw.ID, Group: g, From: sw.From, To: sw.To, Kind: sw.Kind,
		Requester: sw.Requester, Reason: sw.Reason, Approvals: sw.Approvals}, f), nil
}

func (e *Engine) checkSwitch(req SwitchRequest) error {
	if err := strata.CheckText("--reason", req.Reason); err != nil {
		return err
	}
	if req.Failover && strings.TrimSpace(req.Reason) == "" {
		return strata.Errorf(strata.EINVALID, "failover needs --reason saying why (it is the break-glass record in the audit log)")
	}
	return nil
}

// PlanSwitch judges the switch req would make, changing nothing.
func (e *Engine) PlanSwitch(ctx context.Context, req SwitchRequest) (*SwitchResult, error) {
	if err := e.checkSwitch(req); err != nil {
		return nil, err
	}
	g, from, to, err := e.switchTarget(ctx, req)
	if err != nil {
		return nil, err
	}
	sw := e.newSwitch(g, from, to, req)
	res := &SwitchResult{Switch: sw, Unchanged: from == to}
	if res.Gates, err = e.switchGates(ctx, g, sw); err != nil {
		return nil, err
	}
	if !plan.Open(res.Gates) {
		sw.State = strata.SwitchWaiting
	}
	return res, nil
}

func kindOf(req SwitchRequest) string {
	if req.Failover {
		return strata.KindFailover
	}
	return strata.KindSwitch
}

func (e *Engine) newSwitch(g *strata.Group, from, to string, req SwitchRequest) *strata.Switch {
	return &strata.Switch{Group: g.Name, From: from, To: to, Kind: kindOf(req), State: strata.SwitchRunning, Requester: e.Actor,
		Reason: req.Reason, Approvals: []strata.Approval{}, CreatedAt: e.now()}
}

// Switch moves a group's traffic: it judges the gates, records the switch, runs the group's
// switch step and moves the live pointer, all audited. A closed gate other than approvals
// refuses it (EBLOCKED, nothing recorded); closed approvals record it waiting (EBLOCKED
// with its id, for `strata approve`). A step that fails leaves the live member as it was
// (EFAILED). To that is live already changes nothing.
func (e *Engine) Switch(ctx context.Context, req SwitchRequest) (*SwitchResult, error) {
	res, err := e.PlanSwitch(ctx, req)
	if err != nil || res.Unchanged {
		return res, err
	}
	sw := res.Switch
	if !plan.Open(res.Gates) && !plan.OnlyApprovalsClosed(res.Gates) {
		sw.State = SwitchRefused
		return res, gateError(fmt.Sprintf("%s of %s to %s is refused", sw.Kind, sw.Group, sw.To), res.Gates)
	}
	g := e.Project.Group(sw.Group)
	detail := map[string]any{"group": sw.Group, "from": sw.From, "to": sw.To, "kind": sw.Kind, "reason": sw.Reason}
	if plan.Open(res.Gates) {
		sw.State, sw.Owner, sw.LeaseUntil, sw.StartedAt = strata.SwitchRunning, e.Owner, e.now().Add(switchLease(g)), e.now()
	} else {
		sw.State = strata.SwitchWaiting
	}
	detail["state"] = sw.State
	if err := e.Store.CreateSwitch(ctx, sw, e.event(sw.Kind+".request", "", sw.To, "", detail)); err != nil {
		if strata.ErrorCode(err) == strata.ECONFLICT && sw.ID != "" {
			// One switch of a group at a time: asking again for the one that waits
			// is given it (as a promotion asked twice is), anything else the conflict.
			res.Switch = sw
			if sw.State == strata.SwitchWaiting && sw.To == req.To && sw.Kind == kindOf(req) {
				if gates, gerr := e.switchGates(ctx, g, sw); gerr == nil {
					res.Gates = relabel(gates, sw.ID)
					return res, gateError(fmt.Sprintf("switch %s of %s to %s is waiting", sw.ID, sw.Group, sw.To), res.Gates)
				}
			}
		}
		return res, err
	}
	res.Gates = relabel(res.Gates, sw.ID)
	if sw.State == strata.SwitchWaiting {
		return res, gateError(fmt.Sprintf("switch %s of %s to %s is waiting", sw.ID, sw.Group, sw.To), res.Gates)
	}
	return res, e.executeSwitch(ctx, sw, g)
}

// relabel puts the recorded id into the gates' "strata approve ID" hints.
func relabel(gates []plan.Gate, id string) []plan.Gate {
	for i := range gates {
		gates[i].Detail = strings.ReplaceAll(gates[i].Detail, "`strata approve ID`", "`strata approve "+id+"`")
	}
	return gates
}

func gateError(what string, gates []plan.Gate) error {
	var parts []string
	for _, g := range plan.Closed(gates) {
		parts = append(parts, fmt.Sprintf("gate %s: %s", g.Name, g.Detail))
	}
	return strata.Errorf(strata.EBLOCKED, "%s: %s", what, strings.Join(parts, "; "))
}

// ApproveSwitch approves a waiting switch as the engine's principal (not its requester) and
// runs it here when its gates then hold.
func (e *Engine) ApproveSwitch(ctx context.Context, id string) (*SwitchResult, error) {
	sw, err := e.Store.Switch(ctx, id)
	if err != nil {
		return nil, err
	}
	res := &SwitchResult{Switch: sw}
	if sw.State != strata.SwitchWaiting {
		return res, strata.Errorf(strata.ECONFLICT, "switch %s is %s, not waiting; only a waiting switch can be approved", sw.ID, sw.State)
	}
	if sw.Requester == e.Actor {
		return res, strata.Errorf(strata.EINVALID, "%s requested switch %s and cannot approve it; approvals come from someone else", e.Actor, sw.ID)
	}
	ev := e.event("switch.approve", "", sw.To, sw.ID, map[string]any{"group": sw.Group, "from": sw.From, "to": sw.To})
	if err := e.Store.ApproveSwitch(ctx, id, strata.Approval{Principal: e.Actor, At: e.now()}, ev); err != nil {
		return res, err
	}
	return e.AdvanceSwitch(ctx, id)
}

// AdvanceSwitch re-judges a waiting switch and runs it when every gate now holds.
func (e *Engine) AdvanceSwitch(ctx context.Context, id string) (*SwitchResult, error) {
	sw, err := e.Store.Switch(ctx, id)
	if err != nil {
		return nil, err
	}
	res := &SwitchResult{Switch: sw}
	g := e.Project.Group(sw.Group)
	if g == nil || !g.Has(sw.To) {
		return res, strata.Errorf(strata.EINVALID, "switch %s moves group %s to %s, which strata.yaml no longer has; `strata reject %s --reason R` ends it", sw.ID, sw.Group, sw.To, sw.ID)
	}
	if res.Gates, err = e.switchGates(ctx, g, sw); err != nil {
		return res, err
	}
	if sw.State != strata.SwitchWaiting {
		return res, nil
	}
	if !plan.Open(res.Gates) {
		return res, gateError(fmt.Sprintf("switch %s of %s to %s is waiting", sw.ID, sw.Group, sw.To), res.Gates)
	}
	ev := e.event(sw.Kind+".running", "", sw.To, sw.ID, map[string]any{"group": sw.Group, "from": sw.From, "to": sw.To})
	if err := e.Store.ClaimSwitch(ctx, id, e.Owner, e.now().Add(switchLease(g)), ev); err != nil {
		return res, err // another approver's process runs it
	}
	if res.Switch, err = e.Store.Switch(ctx, id); err != nil {
		return nil, err
	}
	return res, e.executeSwitch(ctx, res.Switch, g)
}

// RejectSwitch rejects a waiting switch, with a reason.
func (e *Engine) RejectSwitch(ctx context.Context, id, reason string) (*SwitchResult, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, strata.Errorf(strata.EINVALID, "reject needs --reason saying why (it is recorded in the audit log)")
	}
	if err := strata.CheckText("--reason", reason); err != nil {
		return nil, err
	}
	sw, err := e.Store.Switch(ctx, id)
	if err != nil {
		return nil, err
	}
	if sw.State != strata.SwitchWaiting {
		return &SwitchResult{Switch: sw}, strata.Errorf(strata.ECONFLICT, "switch %s is %s, not waiting", sw.ID, sw.State)
	}
	sw.State, sw.Error, sw.FinishedAt = strata.SwitchRejected, "rejected by "+e.Actor+": "+reason, e.now()
	ev := e.event("switch.reject", "", sw.To, sw.ID, map[string]any{"group": sw.Group, "reason": reason})
	if err := e.Store.FinishSwitch(ctx, sw, ev); err != nil {
		return nil, err
	}
	return &SwitchResult{Switch: sw}, nil
}
