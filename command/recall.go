package command

import (
	"context"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

// Who may recall and unrecall (docs/concepts.md): stopping a bad release is a deployer's
// act, over every environment that runs it (each is rolled back with --rollback); lifting
// a recall lets the release go anywhere again, so it is an approver's decision over every
// declared environment.

// Recall is `recall`: mark a release bad, reject its waiting promotions, and with
// --rollback roll back every environment that runs it.
var Recall = &Command[report.RecallRequest, *report.Recall]{
	Info:      Info{Name: "recall", Route: "POST /api/v1/recalls", Action: deploy, Summary: "recall SERVICE@VERSION --reason R [--rollback]"},
	Authorize: authorizeRecall,
	Run: func(ctx context.Context, x Site, req report.RecallRequest) (*report.Recall, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Recall, error) { return report.RecallRelease(ctx, e, req) })
	},
}

// Unrecall is `unrecall`: lift a release's recall.
var Unrecall = &Command[report.UnrecallRequest, *report.Recall]{
	Info: Info{Name: "unrecall", Route: "POST /api/v1/unrecalls", Action: approve, Summary: "unrecall SERVICE@VERSION --reason R"},
	Authorize: func(ctx context.Context, x Site, req report.UnrecallRequest) error {
		p, err := x.Project(ctx)
		if err != nil {
			return err
		}
		return x.Allow(ctx, approve, declared(p)...)
	},
	Run: func(ctx context.Context, x Site, req report.UnrecallRequest) (*report.Recall, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Recall, error) { return report.UnrecallRelease(ctx, e, req) })
	},
}

// authorizeRecall checks the principal may deploy to every environment that runs the
// release now.
func authorizeRecall(ctx context.Context, x Site, req report.RecallRequest) error {
	e, err := x.Engine(ctx)
	if err != nil {
		return err
	}
	if e.Project.Service(req.Service) == nil || req.Version == "" {
		return nil // Recall says what is wrong with it
	}
	waves, err := e.RecallWaves(ctx, req.Service, req.Version)
	if err != nil {
		return err
	}
	var envs []string
	for _, w := range waves {
		envs = append(envs, w...)
	}
	return x.Allow(ctx, deploy, envs...)
}

// declared names the environments strata.yaml declares.
func declared(p *strata.Project) []string {
	var out []string
	for _, env := range p.Environments {
		if !env.Ephemeral {
			out = append(out, env.Name)
		}
	}
	return out
}
