package command

import (
	"context"
	"slices"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
)

// Groups is `groups`: every environment group, its live member and its standbys.
var Groups = &Command[report.GroupsRequest, []report.Group]{
	Info: Info{Name: "groups", Route: "GET /api/v1/groups", Action: read, Summary: "groups"},
	Run:  groups,
}

// Switch is `switch`: move a group's traffic to another member, gated and audited.
var Switch = &Command[report.SwitchRequest, *report.Switch]{
	Info: Info{Name: "switch", Route: "POST /api/v1/groups/{group}/switch", Action: deploy, Summary: "switch GROUP --to ENV [--reason R] [--dry-run]"},
	Authorize: func(ctx context.Context, x Site, req report.SwitchRequest) error {
		action := deploy
		if req.DryRun {
			action = read
		}
		return allowGroup(ctx, x, action, req.Group)
	},
	Run: func(ctx context.Context, x Site, req report.SwitchRequest) (*report.Switch, error) {
		ctx, err := withAgentWait(ctx, req.AgentWait)
		if err != nil {
			return nil, err
		}
		if req.DryRun {
			return planSwitch(ctx, x, req.Group, engine.SwitchRequest{Group: req.Group, To: req.To, Reason: req.Reason})
		}
		return runSwitch(ctx, x, engine.SwitchRequest{Group: req.Group, To: req.To, Reason: req.Reason})
	},
}

// Failover is `failover`: move a group's traffic off a live side that is down, skipping
// the gates it cannot pass; an admin's or approver's break-glass, with a reason.
var Failover = &Command[report.FailoverRequest, *report.Switch]{
	Info: Info{Name: "failover", Route: "POST /api/v1/groups/{group}/failover", Action: approve, Summary: "failover GROUP --reason R [--to ENV]"},
	Authorize: func(ctx context.Context, x Site, req report.FailoverRequest) error {
		return allowGroup(ctx, x, approve, req.Group)
	},
	Run: func(ctx context.Context, x Site, req report.FailoverRequest) (*report.Switch, error) {
		return runSwitch(ctx, x, engine.SwitchRequest{Group: req.Group, To: req.To, Reason: req.Reason, Failover: true})
	},
}

// PlanSwitch is `plan --switch GROUP --to ENV`: the gates of a switch and the diff of the
// two members, changing nothing.
var PlanSwitch = &Command[report.PlanSwitchRequest, *report.Switch]{
	Info: Info{Name: "plan --switch", Route: "GET /api/v1/groups/{group}/plan", Action: read, Summary: "plan --switch GROUP --to ENV"},
	Authorize: func(ctx context.Context, x Site, req report.PlanSwitchRequest) error {
		return allowGroup(ctx, x, read, req.Group)
	},
	Run: func(ctx context.Context, x Site, req report.PlanSwitchRequest) (*report.Switch, error) {
		ctx, err := withAgentWait(ctx, req.AgentWait)
		if err != nil {
			return nil, err
		}
		return planSwitch(ctx, x, req.Group, engine.SwitchRequest{Group: req.Group, To: req.To})
	},
}

// withAgentWait returns ctx bounding, by wait (`--agent-wait`, "" for the default), how long
// a health check of a member with runs_on waits for an agent of its pool.
func withAgentWait(ctx context.Context, wait string) (context.Context, error) {
	d, err := report.AgentWait(wait)
	if err != nil {
		return ctx, err
	}
	return engine.WithAgentWait(ctx, d), nil
}

// ApproveSwitch is `approve sw-…`: approve a waiting switch; the last approval runs it.
var ApproveSwitch = &Command[report.SwitchIDRequest, *report.Switch]{
	Info: Info{Name: "approve switch", Route: "POST /api/v1/switches/{id}/approve", Action: approve, Summary: "approve SWITCH-ID"},
	Authorize: func(ctx context.Context, x Site, req report.SwitchIDRequest) error {
		return switchAllowed(ctx, x, approve, req.ID)
	},
	Run: func(ctx context.Context, x Site, req report.SwitchIDRequest) (*report.Switch, error) {
		return onSwitch(ctx, x, func(e *engine.Engine) (*engine.SwitchResult, error) { return e.ApproveSwitch(ctx, req.ID) })
	},
}

// RejectSwitch is `reject sw-…`: reject a waiting switch.
var RejectSwitch = &Command[report.SwitchRejectRequest, *report.Switch]{
	Info: Info{Name: "reject switch", Route: "POST /api/v1/switches/{id}/reject", Action: approve, Summary: "reject SWITCH-ID --reason R"},
	Authorize: func(ctx context.Context, x Site, req report.SwitchRejectRequest) error {
		return switchAllowed(ctx, x, approve, req.ID)
	},
	Run: func(ctx context.Context, x Site, req report.SwitchRejectRequest) (*report.Switch, error) {
		return onSwitch(ctx, x, func(e *engine.Engine) (*engine.SwitchResult, error) { return e.RejectSwitch(ctx, req.ID, req.Reason) })
	},
}

// allowGroup checks action on every member of group; an unknown group is left to the
// command, which names the groups there are.
func allowGroup(ctx context.Context, x Site, action, group string) error {
	p, err := x.Project(ctx)
	if err != nil {
		return err
	}
	g := p.Group(group)
	if g == nil {
		return x.Allow(ctx, action)
	}
	return x.Allow(ctx, action, g.Environments...)
}

// switchAllowed checks action on the members of switch id's group.
func switchAllowed(ctx context.Context, x Site, action, id string) error {
	s, err := x.Store(ctx)
	if err != nil {
		return err
	}
	sw, err := s.Switch(ctx, id)
	if err != nil {
		return err
	}
	p, err := x.Project(ctx)
	if err != nil {
		return err
	}
	envs := []string{}
	for _, n := range []string{sw.From, sw.To} {
		if p.Environment(n) != nil {
			envs = append(envs, n)
		}
	}
	return x.Allow(ctx, action, envs...)
}

func runSwitch(ctx context.Context, x Site, req engine.SwitchRequest) (*report.Switch, error) {
	return onSwitch(ctx, x, func(e *engine.Engine) (*engine.SwitchResult, error) { return e.Switch(ctx, req) })
}

// onSwitch runs op on the engine, makes a switch that succeeded seen by the commands after
// it (a server's published project: its standby stages) and returns the document.
func onSwitch(ctx context.Context, x Site, op func(e *engine.Engine) (*engine.SwitchResult, error)) (*report.Switch, error) {
	res, err := onEngine(ctx, x, op)
	if res != nil && res.Switch != nil && res.Switch.State == strata.SwitchSucceeded && res.Switch.ID != "" {
		group, to := res.Switch.Group, res.Switch.To
		x.Publish(func(p *strata.Project) { engine.SetLive(p, group, to) })
	}
	return report.NewSwitch(res), err
}

func planSwitch(ctx context.Context, x Site, group string, req engine.SwitchRequest) (*report.Switch, error) {
	e, err := x.Engine(ctx)
	if err != nil {
		return nil, err
	}
	if req.To == "" {
		if g := e.Project.Group(group); g != nil {
			return nil, strata.Errorf(strata.EINVALID, "plan --switch %s needs --to ENV, one of %v", group, g.Environments)
		}
	}
	res, err := e.PlanSwitch(ctx, req)
	if err != nil {
		return nil, err
	}
	doc := report.NewSwitch(res)
	doc.Diff, err = report.NewDiff(e.Project, res.Switch.From, res.Switch.To, func() (map[plan.Pair]*strata.Deployment, error) { return x.Deployed(ctx) })
	return doc, err
}

// groups lists the groups whose members the principal sees, with their live members.
func groups(ctx context.Context, x Site, _ report.GroupsRequest) ([]report.Group, error) {
	e, err := x.Engine(ctx)
	if err != nil {
		return nil, err
	}
	live, err := e.Live(ctx)
	if err != nil {
		return nil, err
	}
	out := []report.Group{}
	for _, g := range e.Project.Groups {
		if !slices.ContainsFunc(g.Environments, x.Covers) {
			continue
		}
		doc := report.Group{Name: g.Name, Live: live[g.Name], Environments: g.Environments, Standby: g.Standby(live[g.Name])}
		last, err := e.Store.Switches(ctx, strata.SwitchFilter{Group: g.Name, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(last) > 0 {
			doc.Switch = last[0]
		}
		out = append(out, doc)
	}
	return out, nil
}

// markLive marks the status matrix's group members, live or standby (groups).
func markLive(ctx context.Context, x Site, doc *report.Status) error {
	p, err := x.Project(ctx)
	if err != nil || len(p.Groups) == 0 {
		return err
	}
	e, err := x.Engine(ctx)
	if err != nil {
		return err
	}
	live, err := e.Live(ctx)
	if err != nil {
		return err
	}
	doc.MarkLive(p, live)
	if !x.CoversAll() {
		doc.Groups = slices.DeleteFunc(doc.Groups, func(g report.StatusGroup) bool { return !slices.ContainsFunc(g.Environments, x.Covers) })
	}
	return nil
}
