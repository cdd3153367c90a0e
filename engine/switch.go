package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/internal/capbuf"
	"github.com/strata-dev/strata/internal/suggest"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/secret"
	"github.com/strata-dev/strata/step"
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

// switchOutputCap bounds the switch step's output kept in the store.
const switchOutputCap = 64 << 10

// defaultSwitchTimeout bounds a switch step that names no timeout.
const defaultSwitchTimeout = 10 * time.Minute

// Live returns the live member of every group: the store's once a switch moved it (and it
// is still a member), else the one strata.yaml names.
func (e *Engine) Live(ctx context.Context) (map[string]string, error) {
	out := make(map[string]string, len(e.Project.Groups))
	if len(e.Project.Groups) == 0 {
		return out, nil
	}
	ms, err := e.Store.LiveMembers(ctx)
	if err != nil {
		return nil, fmt.Errorf("read live members: %w", err)
	}
	for _, g := range e.Project.Groups {
		out[g.Name] = g.Live
	}
	for _, m := range ms {
		if g := e.Project.Group(m.Group); g != nil && g.Has(m.Environment) {
			out[g.Name] = m.Environment
		}
	}
	return out, nil
}

// ApplyLive sets the membership of p's stages that select a group by role ({group: G, role:
// standby}) from the store's live members, replacing p.Pipeline with a new list (the stages
// it had are not changed: a server's other requests may read them). A project without such
// stages is left as it is, without reading the store.
func ApplyLive(ctx context.Context, p *strata.Project, s strata.GroupStore) error {
	if !slices.ContainsFunc(p.Pipeline, func(st *strata.Stage) bool { return st.Group != "" }) {
		return nil
	}
	ms, err := s.LiveMembers(ctx)
	if err != nil {
		return fmt.Errorf("read live members: %w", err)
	}
	for _, m := range ms {
		SetLive(p, m.Group, m.Environment)
	}
	return nil
}

// SetLive makes env the live member of group in p's stages that select the group by role,
// replacing p.Pipeline with a new list. An env that is no member is ignored.
func SetLive(p *strata.Project, group, env string) {
	g := p.Group(group)
	if g == nil || !g.Has(env) {
		return
	}
	pl := slices.Clone(p.Pipeline)
	for i, st := range pl {
		if st.Group != group {
			continue
		}
		cp := *st
		cp.Environments = config.MembersIn(g, st.Role, env)
		pl[i] = &cp
	}
	p.Pipeline = pl
}

// SameMembers reports whether a and b's stages hold the same environments: whether a
// switch moved a standby stage between them.
func SameMembers(a, b *strata.Project) bool {
	return slices.EqualFunc(a.Pipeline, b.Pipeline, func(x, y *strata.Stage) bool {
		return x.Name == y.Name && slices.Equal(x.Environments, y.Environments)
	})
}

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

// switchLease is how long a switch's owner holds it: the step's timeout and a minute.
func switchLease(g *strata.Group) time.Duration { return switchTimeout(g) + time.Minute }

func switchTimeout(g *strata.Group) time.Duration {
	if g != nil && g.Switch != nil && g.Switch.Timeout > 0 {
		return g.Switch.Timeout
	}
	return defaultSwitchTimeout
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

// executeSwitch runs the group's switch step for sw, which this process owns and the store
// holds running, and records how it ended: succeeded moves the live pointer in the same
// transaction.
func (e *Engine) executeSwitch(ctx context.Context, sw *strata.Switch, g *strata.Group) error {
	out := &capbuf.Buffer{Max: switchOutputCap}
	failure := e.runSwitchStep(ctx, sw, g, out)
	sw.Output, sw.FinishedAt = out.String(), e.now()
	if out.Cut {
		sw.Output += "\n… (cut: the first 64 KiB are kept)"
	}
	sw.State = strata.SwitchSucceeded
	if failure != "" {
		sw.State, sw.Error = strata.SwitchFailed, failure
	}
	detail := map[string]any{"group": sw.Group, "from": sw.From, "to": sw.To, "kind": sw.Kind, "reason": sw.Reason}
	if failure != "" {
		detail["error"] = failure
	}
	if err := e.Store.FinishSwitch(context.WithoutCancel(ctx), sw, e.event(sw.Kind+"."+sw.State, "", sw.To, sw.ID, detail)); err != nil {
		return fmt.Errorf("record switch %s: %w", sw.ID, err)
	}
	if failure != "" {
		e.logf("✗ %s %s → %s: %s", sw.Group, sw.From, sw.To, failure)
		return strata.Errorf(strata.EFAILED, "%s %s of %s to %s failed: %s; %s is still live", sw.Kind, sw.ID, sw.Group, sw.To, failure, sw.From)
	}
	e.logf("✓ %s: %s is live (was %s)", sw.Group, sw.To, sw.From)
	return nil
}

// runSwitchStep runs g's switch step and returns why it failed ("" when it succeeded, or
// when g has none). Its output, redacted of both members' secrets, goes to out and the
// terminal.
func (e *Engine) runSwitchStep(ctx context.Context, sw *strata.Switch, g *strata.Group, out io.Writer) string {
	if g.Switch == nil || g.Switch.Run == "" {
		return ""
	}
	vars := append([]string{}, e.BaseEnv...)
	vars = append(vars, "STRATA_PROJECT="+e.Project.Name, "STRATA_GROUP="+g.Name, "STRATA_FROM="+sw.From, "STRATA_TO="+sw.To,
		"STRATA_SWITCH="+sw.ID, "STRATA_KIND="+sw.Kind)
	ws := []io.Writer{out}
	if e.Log != nil {
		ws = append(ws, &linePrefixer{e: e, prefix: "  " + g.Name + " | "})
	}
	o := &output{redactor: secret.NewRedactor(io.MultiWriter(ws...), e.memberSecrets(sw.From, sw.To))}
	e.logf("▸ %s: switch %s → %s (%s)", g.Name, sw.From, sw.To, sw.ID)
	res, err := e.runStep(ctx, step.Spec{Name: "switch", Command: g.Switch.Run, Dir: e.Project.Dir, Env: vars,
		Timeout: switchTimeout(g), Output: o})
	o.Flush()
	if err != nil {
		if strata.ErrorCode(err) == strata.EFAILED || errors.Is(err, context.DeadlineExceeded) {
			return err.Error()
		}
		return fmt.Sprintf("could not run the switch step: %v", err)
	}
	if res.ExitCode != 0 {
		return fmt.Sprintf("the switch step exited with status %d", res.ExitCode)
	}
	return ""
}

// memberSecrets returns every secret value of every service in envs, for redaction; what
// cannot be read is left out (a step is given none of them).
func (e *Engine) memberSecrets(envs ...string) []string {
	var out []string
	for _, env := range envs {
		for _, svc := range e.Project.Services {
			var vals map[string]string
			var err error
			switch {
			case e.ServiceSecrets != nil:
				vals, err = e.ServiceSecrets(e.Project, svc.Name, env)
			case e.Secrets != nil:
				vals, err = e.Secrets(env)
			}
			if err != nil {
				continue
			}
			for _, v := range vals {
				if v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// StrandedSwitches returns the running switches whose process is gone (on this host a dead
// process, elsewhere a lapsed lease): `strata resume` runs their step again.
func (e *Engine) StrandedSwitches(ctx context.Context) ([]*strata.Switch, error) {
	open, err := e.Store.Switches(ctx, strata.SwitchFilter{States: []string{strata.SwitchRunning}})
	if err != nil {
		return nil, fmt.Errorf("find running switches: %w", err)
	}
	return slices.DeleteFunc(open, func(sw *strata.Switch) bool { return e.alive(sw.Owner, sw.LeaseUntil) }), nil
}

// resumeSwitches runs again the switches whose process died mid-step (taken over, compare
// and set, so one process does), and runs the waiting ones whose gates now hold.
func (e *Engine) resumeSwitches(ctx context.Context) ([]*strata.Switch, error) {
	open, err := e.Store.Switches(ctx, strata.SwitchFilter{States: []string{strata.SwitchRunning, strata.SwitchWaiting}})
	if err != nil {
		return nil, fmt.Errorf("find open switches: %w", err)
	}
	var done []*strata.Switch
	var errs []error
	for _, sw := range open {
		g := e.Project.Group(sw.Group)
		if sw.State == strata.SwitchWaiting {
			if g == nil || len(sw.Approvals) < g.Policy.ApprovalsNeeded() {
				continue
			}
			res, err := e.AdvanceSwitch(ctx, sw.ID)
			switch strata.ErrorCode(err) {
			case "":
				if res.Switch.State != strata.SwitchWaiting {
					done = append(done, res.Switch)
				}
			case strata.EBLOCKED, strata.ECONFLICT:
			default:
				errs = append(errs, err)
			}
			continue
		}
		if e.alive(sw.Owner, sw.LeaseUntil) {
			continue
		}
		ev := e.event(sw.Kind+".resume", "", sw.To, sw.ID, map[string]any{"group": sw.Group, "from": sw.From, "to": sw.To, "previous_owner": sw.Owner.ID()})
		err := e.Store.TakeOverSwitch(ctx, sw.ID, sw.Owner, e.Owner, e.now().Add(switchLease(g)), ev)
		if strata.ErrorCode(err) == strata.ECONFLICT {
			continue // another process took it
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sw.Owner, sw.LeaseUntil = e.Owner, e.now().Add(switchLease(g))
		if g == nil {
			sw.State, sw.Error, sw.FinishedAt = strata.SwitchFailed, "group "+sw.Group+" is no longer in strata.yaml", e.now()
			errs = append(errs, e.Store.FinishSwitch(ctx, sw, e.event(sw.Kind+".failed", "", sw.To, sw.ID, map[string]any{"error": sw.Error})))
			continue
		}
		e.logf("▸ %s: switch %s was interrupted; running its step again", sw.Group, sw.ID)
		if err := e.executeSwitch(ctx, sw, g); err != nil && strata.ErrorCode(err) != strata.EFAILED {
			errs = append(errs, err)
		}
		done = append(done, sw)
	}
	return done, errors.Join(errs...)
}
