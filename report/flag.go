package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/flag"
)

// FlagListRequest is GET /api/v1/flags?env=ENV.
type FlagListRequest struct {
	Env string `query:"env" doc:"the environment (required)"`
}

// FlagExplainRequest is GET /api/v1/flags/{key}?env=ENV.
type FlagExplainRequest struct {
	Key string `json:"-" path:"key"`
	Env string `query:"env" doc:"the environment (required)"`
}

// FlagSetRequest is POST /api/v1/flags/{key}/set: Value is the text `flag set` was given
// (true, 3, gold, a variant's name, or JSON for an object).
type FlagSetRequest struct {
	Key    string `json:"-" path:"key"`
	Env    string `json:"env"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// FlagRolloutRequest is POST /api/v1/flags/{key}/rollout.
type FlagRolloutRequest struct {
	Key     string `json:"-" path:"key"`
	Env     string `json:"env"`
	Percent int    `json:"percent"`
	Reason  string `json:"reason,omitempty"`
}

// FlagKillRequest is POST /api/v1/flags/{key}/kill and, without a reason, .../unkill.
type FlagKillRequest struct {
	Key    string `json:"-" path:"key"`
	Env    string `json:"env"`
	Reason string `json:"reason,omitempty"`
}

// FlagEntry is one flag as `flag list` shows it: what a client that sends no attributes
// gets, which part decided and where that part came from.
type FlagEntry struct {
	Key         string `json:"key"`
	Environment string `json:"environment"`
	Value       any    `json:"value"`
	Variant     string `json:"variant"`
	Reason      string `json:"reason"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	// Part is the part that decided; Detail says why, for a flag that is off.
	Part       string     `json:"part"`
	Detail     string     `json:"detail,omitempty"`
	Killed     bool       `json:"killed"`
	KillReason string     `json:"kill_reason,omitempty"`
	Percent    *int       `json:"percent,omitempty"`
	ChangedBy  string     `json:"changed_by,omitempty"`
	ChangedAt  *time.Time `json:"changed_at,omitempty"`
	// Request is the change request this command made or approved, when the environment
	// needs approvals of runtime changes (policy.flag_approvals).
	Request *strata.FlagRequest `json:"request,omitempty"`
}

// FlagPart is one part of a flag as explain shows it.
type FlagPart struct {
	Part   string `json:"part"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

// FlagExplain is the document of `flag explain`.
type FlagExplain struct {
	FlagEntry
	Parts []FlagPart `json:"parts"`
}

// FlagSite is what flag commands read: the project, the runtime states and what runs.
type FlagSite struct {
	Project *strata.Project
	Env     *strata.Environment
	States  map[string]*strata.FlagState
	Running map[string]string
}

// LoadFlagSite reads what flag commands need about env from e's store.
func LoadFlagSite(ctx context.Context, e *engine.Engine, env string) (*FlagSite, error) {
	if err := NeedEnv(e.Project, env); err != nil {
		return nil, err
	}
	fs := &FlagSite{Project: e.Project, Env: e.Project.Environment(env), States: map[string]*strata.FlagState{}, Running: map[string]string{}}
	states, err := e.Store.FlagStates(ctx, env)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		fs.States[st.Flag] = st
	}
	cur, err := e.Current(ctx)
	if err != nil {
		return nil, err
	}
	for pair, d := range cur {
		if pair.Environment == env {
			fs.Running[pair.Service] = d.Version
		}
	}
	return fs, nil
}

// Resolved returns flag key as it stands here, runtime changes applied. ENOTFOUND, with
// the flags there are, when the project declares no such flag.
func (fs *FlagSite) Resolved(key string) (*flag.Resolved, error) {
	f := flag.Find(fs.Project, key)
	if f == nil {
		return nil, Unknown("flag", key, flag.Keys(fs.Project))
	}
	return flag.Resolve(f, fs.Env).WithState(fs.States[key]), nil
}

// Entry evaluates r for a context with no attributes.
func (fs *FlagSite) Entry(r *flag.Resolved) FlagEntry {
	res := flag.Evaluate(r, nil, fs.Running)
	e := FlagEntry{Key: r.Key, Environment: fs.Env.Name, Value: res.Value, Variant: res.Variant, Reason: res.Reason, Type: r.Type, Part: res.Part,
		Detail: res.Detail, Killed: r.Killed, KillReason: r.KillReason, ChangedBy: r.ChangedBy}
	if res.ErrorCode == flag.ErrTargetingKeyMissing {
		// Listed without a user: the flag splits by user, and this is who is not in.
		e.Reason, e.Detail = flag.ReasonSplit, ""
	}
	part := res.Part
	if strings.HasPrefix(part, "rules[") {
		part = flag.PartRules
	}
	e.Source = r.Sources[part]
	if ro := r.Rollout; ro != nil {
		p := ro.Percent
		e.Percent = &p
	}
	if !r.ChangedAt.IsZero() {
		e.ChangedAt = TimePtr(r.ChangedAt)
	}
	return e
}

// FlagList lists env's flags, in declaration order.
func FlagList(ctx context.Context, e *engine.Engine, env string) ([]FlagEntry, error) {
	fs, err := LoadFlagSite(ctx, e, env)
	if err != nil {
		return nil, err
	}
	out := make([]FlagEntry, 0, len(e.Project.Flags))
	for _, f := range e.Project.Flags {
		r, _ := fs.Resolved(f.Key)
		out = append(out, fs.Entry(r))
	}
	return out, nil
}

// FlagExplainOf explains flag key in env: each part, where it came from, and what a
// context with no attributes gets.
func FlagExplainOf(ctx context.Context, e *engine.Engine, key, env string) (*FlagExplain, error) {
	fs, err := LoadFlagSite(ctx, e, env)
	if err != nil {
		return nil, err
	}
	r, err := fs.Resolved(key)
	if err != nil {
		return nil, err
	}
	doc := &FlagExplain{FlagEntry: fs.Entry(r), Parts: []FlagPart{}}
	for _, part := range flag.Parts {
		src, ok := r.Sources[part]
		if !ok {
			continue
		}
		doc.Parts = append(doc.Parts, FlagPart{Part: part, Value: partValue(r, part), Source: src})
	}
	return doc, nil
}

func partValue(r *flag.Resolved, part string) any {
	switch part {
	case flag.PartType:
		return r.Type
	case flag.PartVariants:
		return r.Variants
	case flag.PartDefault:
		return r.Default
	case flag.PartRules:
		var out []string
		for _, rule := range r.Rules {
			var conds []string
			for _, c := range rule.When {
				conds = append(conds, fmt.Sprintf("%s %s %s", c.Attribute, c.Op, flag.Show(c.Values)))
			}
			out = append(out, fmt.Sprintf("when %s: %s", strings.Join(conds, " and "), flag.Show(rule.Value.V)))
		}
		return out
	case flag.PartRollout:
		return map[string]any{"percent": r.Rollout.Percent, "value": r.Rollout.Value.V}
	case flag.PartRequires:
		return r.Requires
	case flag.PartSet:
		return r.Set
	case flag.PartKill:
		return r.KillReason
	}
	return nil
}

// changeFlag checks a runtime change of key in env against the environment's governance
// (freeze, flag_approvals), applies it with its audit event and returns the flag after.
// A kill is allowed in a frozen environment: it only ever turns a feature off.
func changeFlag(ctx context.Context, e *engine.Engine, key, env, action string, c *strata.FlagChange, detail map[string]any) (*FlagEntry, error) {
	fs, err := LoadFlagSite(ctx, e, env)
	if err != nil {
		return nil, err
	}
	if _, err := fs.Resolved(key); err != nil {
		return nil, err
	}
	if err := flagFreeze(ctx, e, fs.Env, action); err != nil {
		return nil, err
	}
	c.Environment, c.Flag, c.Actor, c.At = env, key, e.Actor, now(e)
	raw, err := json.Marshal(detail)
	if err != nil {
		return nil, fmt.Errorf("%s %s in %s: %w", action, key, env, err)
	}
	if n := fs.Env.Policy.FlagApprovals; n != nil && *n > 0 && action != "flag.kill" {
		r := &strata.FlagRequest{Environment: env, Flag: key, Action: action, Change: *c, Detail: raw, RequestedBy: e.Actor, Needed: *n}
		ev := &strata.Event{Actor: e.Actor, Action: "flag.request", Environment: env, Detail: raw}
		if err := e.Store.RequestFlagChange(ctx, r, ev); err != nil {
			return nil, err
		}
		r0, _ := fs.Resolved(key)
		entry := fs.Entry(r0)
		entry.Request = r
		return &entry, strata.Errorf(strata.EBLOCKED, "%s needs %d approval(s) of runtime flag changes (policy.flag_approvals): the change waits as %s until another principal runs `strata flag approve %s`", env, *n, r.ID, r.ID)
	}
	ev := &strata.Event{Actor: e.Actor, Action: action, Environment: env, Subject: key, Detail: raw}
	st, err := e.Store.ChangeFlag(ctx, c, ev)
	if err != nil {
		return nil, err
	}
	fs.States[key] = st
	r, _ := fs.Resolved(key)
	entry := fs.Entry(r)
	return &entry, nil
}

// FlagApproveRequest is POST /api/v1/flag-requests/{id}/approve.
type FlagApproveRequest struct {
	ID string `json:"-" path:"id"`
}

// FlagRequestsRequest is GET /api/v1/flag-requests?env=ENV.
type FlagRequestsRequest struct {
	Env string `query:"env" doc:"only this environment"`
}

// FindFlagRequest returns the waiting request id. ENOTFOUND when none waits under it.
func FindFlagRequest(ctx context.Context, s strata.FlagStore, id string) (*strata.FlagRequest, error) {
	rs, err := s.FlagRequests(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.ID == id {
			return r, nil
		}
	}
	return nil, strata.Errorf(strata.ENOTFOUND, "no flag change request %s waits; `strata flag requests` lists those that do", id)
}

// FlagApprove approves a waiting runtime flag change as e's actor; the approval that
// completes it applies the change (the environment's freeze still applies then).
func FlagApprove(ctx context.Context, e *engine.Engine, id string) (*FlagEntry, error) {
	r, err := FindFlagRequest(ctx, e.Store, id)
	if err != nil {
		return nil, err
	}
	fs, err := LoadFlagSite(ctx, e, r.Environment)
	if err != nil {
		return nil, err
	}
	if _, err := fs.Resolved(r.Flag); err != nil {
		return nil, err
	}
	if len(r.Approvals)+1 >= r.Needed {
		if err := flagFreeze(ctx, e, fs.Env, r.Action); err != nil {
			return nil, err
		}
	}
	ev := &strata.Event{Actor: e.Actor, Action: "flag.approve", Environment: r.Environment, Subject: id}
	detail, _ := json.Marshal(map[string]any{"request": id, "requested_by": r.RequestedBy, "change": r.Detail})
	applied := &strata.Event{Actor: e.Actor, Action: r.Action, Environment: r.Environment, Subject: r.Flag, Detail: detail}
	req, st, err := e.Store.ApproveFlagChange(ctx, id, strata.Approval{Principal: e.Actor, At: now(e)}, ev, applied)
	if err != nil {
		return nil, err
	}
	if st != nil {
		fs.States[r.Flag] = st
	}
	res, _ := fs.Resolved(r.Flag)
	entry := fs.Entry(res)
	entry.Request = req
	return &entry, nil
}

// FlagRequests lists the waiting runtime flag changes of env ("" for all).
func FlagRequests(ctx context.Context, e *engine.Engine, env string) ([]*strata.FlagRequest, error) {
	if env != "" {
		if err := NeedEnv(e.Project, env); err != nil {
			return nil, err
		}
	}
	rs, err := e.Store.FlagRequests(ctx, env)
	if rs == nil && err == nil {
		rs = []*strata.FlagRequest{}
	}
	return rs, err
}

// WriteFlagRequests prints waiting runtime flag changes.
func WriteFlagRequests(w io.Writer, rs []*strata.FlagRequest) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no flag changes wait for approval")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tENVIRONMENT\tFLAG\tCHANGE\tASKED BY\tAPPROVALS")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%d of %d\n", r.ID, r.Environment, r.Flag, r.Action, r.Detail, r.RequestedBy, len(r.Approvals), r.Needed)
	}
	tw.Flush()
}

// flagFreeze refuses a runtime change in a frozen environment. A kill is allowed: it only
// ever turns a feature off, and a safety switch must not wait.
func flagFreeze(ctx context.Context, e *engine.Engine, env *strata.Environment, action string) error {
	if action == "flag.kill" {
		return nil
	}
	frozen, err := e.Store.Freezes(ctx)
	if err != nil {
		return err
	}
	for _, f := range frozen {
		if f.Environment == env.Name {
			return strata.Errorf(strata.EBLOCKED, "%s is frozen (%s, by %s): runtime flag changes wait for `strata unfreeze %s`; a kill is still allowed", env.Name, f.Reason, f.Actor, env.Name)
		}
	}
	return nil
}

// needReason checks a required --reason.
func needReason(cmd, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return strata.Errorf(strata.EINVALID, "%s needs --reason saying why (it goes to the audit log)", cmd)
	}
	return strata.CheckText("--reason", reason)
}

// FlagSet gives flag key the value text in env, above its rules and rollout.
func FlagSet(ctx context.Context, e *engine.Engine, req FlagSetRequest) (*FlagEntry, error) {
	if err := needReason("flag set", req.Reason); err != nil {
		return nil, err
	}
	fs, err := LoadFlagSite(ctx, e, req.Env)
	if err != nil {
		return nil, err
	}
	r, err := fs.Resolved(req.Key)
	if err != nil {
		return nil, err
	}
	v, err := r.ParseValue(req.Value)
	if err != nil {
		return nil, strata.Errorf(strata.EINVALID, "flag set %s: %w", req.Key, err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, strata.Errorf(strata.EINVALID, "flag set %s: %w", req.Key, err)
	}
	return changeFlag(ctx, e, req.Key, req.Env, "flag.set", &strata.FlagChange{Value: raw}, map[string]any{"value": v, "reason": req.Reason})
}

// FlagRollout sets the rollout percent of flag key in env.
func FlagRollout(ctx context.Context, e *engine.Engine, req FlagRolloutRequest) (*FlagEntry, error) {
	if req.Percent < 0 || req.Percent > 100 {
		return nil, strata.Errorf(strata.EINVALID, "flag rollout %s: percent %d is outside 0-100; want a whole number such as 25", req.Key, req.Percent)
	}
	if req.Reason != "" {
		if err := strata.CheckText("--reason", req.Reason); err != nil {
			return nil, err
		}
	}
	fs, err := LoadFlagSite(ctx, e, req.Env)
	if err != nil {
		return nil, err
	}
	r, err := fs.Resolved(req.Key)
	if err != nil {
		return nil, err
	}
	if r.Rollout == nil && (r.Type != strata.FlagBoolean || r.Variants != nil) {
		return nil, strata.Errorf(strata.EINVALID, "flag rollout %s: the flag declares no rollout, so there is no value to roll out; add e.g. rollout: {percent: 0, value: V} to it in strata.yaml (a boolean flag without variants rolls out true)", req.Key)
	}
	p := req.Percent
	return changeFlag(ctx, e, req.Key, req.Env, "flag.rollout", &strata.FlagChange{Percent: &p}, map[string]any{"percent": p, "reason": req.Reason})
}

// FlagKill forces flag key's default in env, above every rule, until FlagUnkill.
func FlagKill(ctx context.Context, e *engine.Engine, req FlagKillRequest) (*FlagEntry, error) {
	if err := needReason("flag kill", req.Reason); err != nil {
		return nil, err
	}
	on := true
	return changeFlag(ctx, e, req.Key, req.Env, "flag.kill", &strata.FlagChange{Killed: &on, Reason: req.Reason}, map[string]any{"reason": req.Reason})
}

// FlagUnkill lifts a kill.
func FlagUnkill(ctx context.Context, e *engine.Engine, req FlagKillRequest) (*FlagEntry, error) {
	off := false
	return changeFlag(ctx, e, req.Key, req.Env, "flag.unkill", &strata.FlagChange{Killed: &off}, map[string]any{})
}

// WriteText prints a flag as one line, and the change request this command made or
// approved, if any.
func (f *FlagEntry) WriteText(w io.Writer) {
	writeFlags(w, []FlagEntry{*f})
	if r := f.Request; r != nil {
		if r.State == strata.FlagApplied {
			fmt.Fprintf(w, "change %s (%s, asked by %s) is applied\n", r.ID, r.Action, r.RequestedBy)
		} else {
			fmt.Fprintf(w, "change %s (%s, asked by %s) waits for approvals: %d of %d; `strata flag approve %s`\n", r.ID, r.Action, r.RequestedBy, len(r.Approvals), r.Needed, r.ID)
		}
	}
}

// WriteFlags prints flags as a table.
func WriteFlags(w io.Writer, fs []FlagEntry) { writeFlags(w, fs) }

func writeFlags(w io.Writer, fs []FlagEntry) {
	if len(fs) == 0 {
		fmt.Fprintln(w, "no flags (declare them under flags: in strata.yaml)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FLAG\tVALUE\tREASON\tSOURCE\tCHANGED BY")
	for _, f := range fs {
		reason := f.Reason
		if f.Killed {
			reason += " (killed: " + f.KillReason + ")"
		} else if f.Detail != "" {
			reason += " (" + f.Detail + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Key, flag.Show(f.Value), reason, f.Source, f.ChangedBy)
	}
	tw.Flush()
}

// WriteText prints each part of the flag and where it came from.
func (x *FlagExplain) WriteText(w io.Writer) {
	fmt.Fprintf(w, "flag %s in %s: %s (%s", x.Key, x.Environment, flag.Show(x.Value), x.Reason)
	if x.Detail != "" {
		fmt.Fprintf(w, ": %s", x.Detail)
	}
	fmt.Fprintln(w, ")")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range x.Parts {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Part, flag.Show(p.Value), p.Source)
	}
	tw.Flush()
}
