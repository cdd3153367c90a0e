package command

import (
	"context"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

// Run is `run`: run a service's runbook in an environment, through its freeze and the
// approvals the runbook's policy asks.
var Run = &Command[report.RunRequest, *strata.TaskRun]{
	Info: Info{Name: "run", Route: "POST /api/v1/runs", Action: deploy, Summary: "run SERVICE TASK --env ENV [--reason R]"},
	Authorize: func(ctx context.Context, x Site, req report.RunRequest) error {
		return x.Allow(ctx, deploy, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.RunRequest) (*strata.TaskRun, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*strata.TaskRun, error) {
			return e.RunTask(ctx, engine.RunRequest{Service: req.Service, Task: req.Task, Env: req.Env, Reason: req.Reason})
		})
	},
}

// ApproveRun is `approve t-…`: approve a waiting run; the last approval runs it.
var ApproveRun = &Command[report.RunIDRequest, *strata.TaskRun]{
	Info: Info{Name: "approve run", Route: "POST /api/v1/runs/{id}/approve", Action: approve, Summary: "approve RUN-ID"},
	Authorize: func(ctx context.Context, x Site, req report.RunIDRequest) error {
		return runAllowed(ctx, x, approve, req.ID)
	},
	Run: func(ctx context.Context, x Site, req report.RunIDRequest) (*strata.TaskRun, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*strata.TaskRun, error) { return e.ApproveTaskRun(ctx, req.ID) })
	},
}

// RejectRun is `reject t-…`: reject a waiting run.
var RejectRun = &Command[report.RunRejectRequest, *strata.TaskRun]{
	Info: Info{Name: "reject run", Route: "POST /api/v1/runs/{id}/reject", Action: approve, Summary: "reject RUN-ID --reason R"},
	Authorize: func(ctx context.Context, x Site, req report.RunRejectRequest) error {
		return runAllowed(ctx, x, approve, req.ID)
	},
	Run: func(ctx context.Context, x Site, req report.RunRejectRequest) (*strata.TaskRun, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*strata.TaskRun, error) { return e.RejectTaskRun(ctx, req.ID, req.Reason) })
	},
}

// ShowRun is `runs show ID`: one run, with its output.
var ShowRun = &Command[report.RunIDRequest, *strata.TaskRun]{
	Info: Info{Name: "runs show", Route: "GET /api/v1/runs/{id}", Action: read, Summary: "runs show RUN-ID"},
	Authorize: func(ctx context.Context, x Site, req report.RunIDRequest) error {
		return runAllowed(ctx, x, read, req.ID)
	},
	Run: func(ctx context.Context, x Site, req report.RunIDRequest) (*strata.TaskRun, error) {
		s, err := x.Store(ctx)
		if err != nil {
			return nil, err
		}
		return s.TaskRun(ctx, req.ID)
	},
}

// Runs is `runs`: the newest runs, of one environment or service, that the principal sees.
var Runs = &Command[report.RunsRequest, []*strata.TaskRun]{
	Info: Info{Name: "runs", Route: "GET /api/v1/runs", Action: read, Summary: "runs [--env ENV] [--service S] [--kind K]"},
	Authorize: func(ctx context.Context, x Site, req report.RunsRequest) error {
		return allowIfNamed(ctx, x, read, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.RunsRequest) ([]*strata.TaskRun, error) {
		s, err := x.Store(ctx)
		if err != nil {
			return nil, err
		}
		limit := req.Limit
		if limit <= 0 {
			limit = 50
		}
		kinds, err := req.RunKinds()
		if err != nil {
			return nil, err
		}
		rs, err := s.TaskRuns(ctx, strata.TaskRunFilter{Environment: req.Env, Service: req.Service, Kinds: kinds, Limit: limit})
		if err != nil {
			return nil, err
		}
		out := []*strata.TaskRun{}
		for _, r := range rs {
			if x.Covers(r.Environment) {
				out = append(out, r)
			}
		}
		return out, nil
	},
}

// runAllowed checks action on the environment of run id.
func runAllowed(ctx context.Context, x Site, action, id string) error {
	s, err := x.Store(ctx)
	if err != nil {
		return err
	}
	r, err := s.TaskRun(ctx, id)
	if err != nil {
		return err
	}
	return x.Allow(ctx, action, r.Environment)
}
