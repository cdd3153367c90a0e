package command

import (
	"context"
	"slices"

	"github.com/strata-dev/strata"

	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

// The feature flag commands. Reading a flag needs read on its environment; changing one
// at run time needs deploy there (the same principals who may ship the feature may turn it
// on), and the environment's freeze and flag_approvals apply (package report).

// FlagList is `flag list --env ENV`.
var FlagList = &Command[report.FlagListRequest, []report.FlagEntry]{
	Info: Info{Name: "flag list", Route: "GET /api/v1/flags", Action: read, Summary: "flag list --env ENV"},
	Authorize: func(ctx context.Context, x Site, req report.FlagListRequest) error {
		return x.Allow(ctx, read, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.FlagListRequest) ([]report.FlagEntry, error) {
		return onEngine(ctx, x, func(e *engine.Engine) ([]report.FlagEntry, error) { return report.FlagList(ctx, e, req.Env) })
	},
}

// FlagExplain is `flag explain FLAG --env ENV`.
var FlagExplain = &Command[report.FlagExplainRequest, *report.FlagExplain]{
	Info: Info{Name: "flag explain", Route: "GET /api/v1/flags/{key}", Action: read, Summary: "flag explain FLAG --env ENV"},
	Authorize: func(ctx context.Context, x Site, req report.FlagExplainRequest) error {
		return x.Allow(ctx, read, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.FlagExplainRequest) (*report.FlagExplain, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.FlagExplain, error) {
			return report.FlagExplainOf(ctx, e, req.Key, req.Env)
		})
	},
}

// FlagSet is `flag set FLAG VALUE --env ENV --reason R`.
var FlagSet = &Command[report.FlagSetRequest, *report.FlagEntry]{
	Info: Info{Name: "flag set", Route: "POST /api/v1/flags/{key}/set", Action: deploy, Summary: "flag set FLAG VALUE --env ENV --reason R"},
	Authorize: func(ctx context.Context, x Site, req report.FlagSetRequest) error {
		return x.Allow(ctx, deploy, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.FlagSetRequest) (*report.FlagEntry, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.FlagEntry, error) { return report.FlagSet(ctx, e, req) })
	},
}

// FlagRollout is `flag rollout FLAG PERCENT --env ENV`.
var FlagRollout = &Command[report.FlagRolloutRequest, *report.FlagEntry]{
	Info: Info{Name: "flag rollout", Route: "POST /api/v1/flags/{key}/rollout", Action: deploy, Summary: "flag rollout FLAG PERCENT --env ENV"},
	Authorize: func(ctx context.Context, x Site, req report.FlagRolloutRequest) error {
		return x.Allow(ctx, deploy, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.FlagRolloutRequest) (*report.FlagEntry, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.FlagEntry, error) { return report.FlagRollout(ctx, e, req) })
	},
}

// FlagKill is `flag kill FLAG --env ENV --reason R`.
var FlagKill = &Command[report.FlagKillRequest, *report.FlagEntry]{
	Info: Info{Name: "flag kill", Route: "POST /api/v1/flags/{key}/kill", Action: deploy, Summary: "flag kill FLAG --env ENV --reason R"},
	Authorize: func(ctx context.Context, x Site, req report.FlagKillRequest) error {
		return x.Allow(ctx, deploy, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.FlagKillRequest) (*report.FlagEntry, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.FlagEntry, error) { return report.FlagKill(ctx, e, req) })
	},
}

// FlagUnkill is `flag unkill FLAG --env ENV`.
var FlagUnkill = &Command[report.FlagKillRequest, *report.FlagEntry]{
	Info: Info{Name: "flag unkill", Route: "POST /api/v1/flags/{key}/unkill", Action: deploy, Summary: "flag unkill FLAG --env ENV"},
	Authorize: func(ctx context.Context, x Site, req report.FlagKillRequest) error {
		return x.Allow(ctx, deploy, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.FlagKillRequest) (*report.FlagEntry, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.FlagEntry, error) { return report.FlagUnkill(ctx, e, req) })
	},
}

// FlagApprove is `flag approve ID`: approve a runtime flag change that waits for approvals
// (policy.flag_approvals); the approval that completes it applies it.
var FlagApprove = &Command[report.FlagApproveRequest, *report.FlagEntry]{
	Info: Info{Name: "flag approve", Route: "POST /api/v1/flag-requests/{id}/approve", Action: approve, Summary: "flag approve ID"},
	Authorize: func(ctx context.Context, x Site, req report.FlagApproveRequest) error {
		s, err := x.Store(ctx)
		if err != nil {
			return err
		}
		r, err := report.FindFlagRequest(ctx, s, req.ID)
		if err != nil {
			return err
		}
		return x.Allow(ctx, approve, r.Environment)
	},
	Run: func(ctx context.Context, x Site, req report.FlagApproveRequest) (*report.FlagEntry, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.FlagEntry, error) { return report.FlagApprove(ctx, e, req.ID) })
	},
}

// FlagRequests is `flag requests [--env ENV]`: runtime flag changes that wait for approvals.
var FlagRequests = &Command[report.FlagRequestsRequest, []*strata.FlagRequest]{
	Info: Info{Name: "flag requests", Route: "GET /api/v1/flag-requests", Action: read, Summary: "flag requests [--env ENV]"},
	Authorize: func(ctx context.Context, x Site, req report.FlagRequestsRequest) error {
		return allowIfNamed(ctx, x, read, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.FlagRequestsRequest) ([]*strata.FlagRequest, error) {
		rs, err := onEngine(ctx, x, func(e *engine.Engine) ([]*strata.FlagRequest, error) { return report.FlagRequests(ctx, e, req.Env) })
		if err != nil || x.CoversAll() {
			return rs, err
		}
		return slices.DeleteFunc(rs, func(r *strata.FlagRequest) bool { return !x.Covers(r.Environment) }), nil
	},
}
