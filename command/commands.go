package command

import (
	"context"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

// The declarations. Each is the one place that says what a command is called, where it is
// served, who may run it, what it takes and what it returns; its operation is in the file
// of its topic. A new command is declared here and listed in All (see the package comment).

const read, deploy, approve, admin = strata.ActRead, strata.ActDeploy, strata.ActApprove, strata.ActAdmin

// All returns every declared command, in the order docs/api.md lists their routes.
func All() []Decl {
	return []Decl{
		Validate, Environments, CreateEnv, DestroyEnv, Config, Diff, Status, History,
		Deployment, Logs, Release, Deploy, Rollback, Promote, Promotions, Promotion, Plan,
		Approve, Reject, Freeze, Unfreeze, Audit, Resume, Drift, GC, Agents, Stats, Graph,
		FlagList, FlagExplain, FlagSet, FlagRollout, FlagKill, FlagUnkill, FlagRequests, FlagApprove,
		Run, ApproveRun, RejectRun, Runs, ShowRun,
	}
}

// Validate is `validate`: the summary of the project, every check run.
var Validate = &Command[None, *report.Validation]{
	Info: Info{Name: "validate", Route: "GET /api/v1/validate", Action: read, Summary: "validate"},
	Run:  validate,
}

// Environments is `env list`.
var Environments = &Command[report.EnvListRequest, []report.Environment]{
	Info: Info{Name: "env list", Route: "GET /api/v1/environments", Action: read, Summary: "env list"},
	Run:  environments,
}

// CreateEnv is `env create`: a short-lived environment like a declared one.
var CreateEnv = &Command[report.EnvCreateRequest, *report.Ephemeral]{
	Info:      Info{Name: "env create", Route: "POST /api/v1/environments", Action: deploy, Summary: "env create NAME --like ENV [--ttl D] [--label k=v]"},
	Authorize: authorizeCreateEnv,
	Run:       createEnv,
}

// DestroyEnv is `env destroy`.
var DestroyEnv = &Command[report.EnvDestroyRequest, *report.Destroyed]{
	Info: Info{Name: "env destroy", Route: "DELETE /api/v1/environments/{name}", Action: deploy, Summary: "env destroy NAME"},
	Authorize: func(ctx context.Context, x Site, req report.EnvDestroyRequest) error {
		return x.Allow(ctx, deploy, req.Name)
	},
	Run: destroyEnv,
}

// Config is `config`: a service's resolved configuration in an environment.
var Config = &Command[report.ConfigRequest, *report.Config]{
	Info: Info{Name: "config", Route: "GET /api/v1/config/{service}", Action: read, Summary: "config SERVICE --env ENV [--explain]"},
	Authorize: func(ctx context.Context, x Site, req report.ConfigRequest) error {
		return x.Allow(ctx, read, req.Env)
	},
	Run: config,
}

// Diff is `diff`: versions and config that differ between two environments.
var Diff = &Command[report.DiffRequest, *report.Diff]{
	Info: Info{Name: "diff", Route: "GET /api/v1/diff", Action: read, Summary: "diff ENV_A ENV_B"},
	Authorize: func(ctx context.Context, x Site, req report.DiffRequest) error {
		return x.Allow(ctx, read, req.A, req.B)
	},
	Run: diff,
}

// Status is `status`: the environment x service matrix.
var Status = &Command[report.StatusRequest, *report.Status]{
	Info: Info{Name: "status", Route: "GET /api/v1/status", Action: read, Summary: "status"},
	Run:  status,
}

// History is `history`: deployments, newest first.
var History = &Command[report.HistoryQuery, []report.Deployment]{
	Info: Info{Name: "history", Route: "GET /api/v1/deployments", Action: read, Summary: "history [SERVICE] [--env ENV]"},
	Authorize: func(ctx context.Context, x Site, q report.HistoryQuery) error {
		return allowIfNamed(ctx, x, read, q.Environment)
	},
	Run: history,
}

// Deployment is one deployment (the API's; the CLI shows deployments through history).
var Deployment = &Command[report.DeploymentRequest, *report.Deployment]{
	Info: Info{Name: "deployment", Route: "GET /api/v1/deployments/{id}", Action: read, Summary: "one deployment"},
	Run:  deployment,
}

// Logs is `logs`: a deployment's stored (redacted) output.
var Logs = &Command[report.LogsRequest, *report.Logs]{
	Info: Info{Name: "logs", Route: "GET /api/v1/deployments/{id}/logs", Action: read, Summary: "logs ID [--follow]"},
	Run:  logs,
}

// Release is `release`: build once, record the release, land it in the auto stages.
var Release = &Command[report.ReleaseRequest, *report.Release]{
	Info: Info{Name: "release", Route: "POST /api/v1/releases", Action: deploy, Summary: "release SERVICE [--version V] [--artifact PATH]..."},
	Run:  release,
}

// Deploy is `deploy`: one release to one environment.
var Deploy = &Command[report.DeployRequest, *report.Deployment]{
	Info: Info{Name: "deploy", Route: "POST /api/v1/deployments", Action: deploy, Summary: "deploy SERVICE[@VERSION] --env ENV"},
	Authorize: func(ctx context.Context, x Site, req report.DeployRequest) error {
		return x.Allow(ctx, deploy, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.DeployRequest) (*report.Deployment, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Deployment, error) { return report.Deploy(ctx, e, req) })
	},
}

// Rollback is `rollback`: back to the previous good release (or To).
var Rollback = &Command[report.RollbackRequest, *report.Deployment]{
	Info:      Info{Name: "rollback", Route: "POST /api/v1/rollbacks", Action: deploy, Summary: "rollback SERVICE --env ENV [--to VERSION] [--override-freeze|--override-window --reason R]"},
	Authorize: authorizeRollback,
	Run: func(ctx context.Context, x Site, req report.RollbackRequest) (*report.Deployment, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Deployment, error) { return report.Rollback(ctx, e, req) })
	},
}

// Promote is `promote`: ask to move a release into a stage.
var Promote = &Command[report.PromoteRequest, *report.Promotion]{
	Info:      Info{Name: "promote", Route: "POST /api/v1/promotions", Action: deploy, Summary: "promote SERVICE[@VERSION] [--to STAGE] [--only ENV]..."},
	Authorize: authorizePromote,
	Run: func(ctx context.Context, x Site, req report.PromoteRequest) (*report.Promotion, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Promotion, error) { return report.Promote(ctx, e, req) })
	},
}

// Promotions lists promotions, newest first (the API's; the dashboard shows them).
var Promotions = &Command[report.PromotionsQuery, []*strata.Promotion]{
	Info: Info{Name: "promotions", Route: "GET /api/v1/promotions", Action: read, Summary: "promotions, newest first"},
	Run:  promotions,
}

// Promotion is one promotion with its gates judged now (the API's).
var Promotion = &Command[report.PromotionRequest, *report.Promotion]{
	Info: Info{Name: "promotion", Route: "GET /api/v1/promotions/{id}", Action: read, Summary: "one promotion with its gates"},
	Run:  promotion,
}

// Plan is `plan`: what a promotion would do and which gates hold, changing nothing.
var Plan = &Command[report.PromoteRequest, *report.Promotion]{
	Info: Info{Name: "plan", Route: "POST /api/v1/plan", Action: read, Summary: "plan SERVICE[@VERSION] [--to STAGE] [--only ENV]..."},
	Authorize: func(ctx context.Context, x Site, req report.PromoteRequest) error {
		return allowStage(ctx, x, read, req)
	},
	Run: func(ctx context.Context, x Site, req report.PromoteRequest) (*report.Promotion, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Promotion, error) { return report.Plan(ctx, e, req.Engine()) })
	},
}

// Approve is `approve`: approve a waiting promotion as the principal.
var Approve = &Command[report.ApproveRequest, *report.Promotion]{
	Info: Info{Name: "approve", Route: "POST /api/v1/promotions/{id}/approve", Action: approve, Summary: "approve ID"},
	Authorize: func(ctx context.Context, x Site, req report.ApproveRequest) error {
		return decidable(ctx, x, req.ID)
	},
	Run: func(ctx context.Context, x Site, req report.ApproveRequest) (*report.Promotion, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Promotion, error) { return report.Approve(ctx, e, req.ID, req) })
	},
}

// Reject is `reject`: reject a waiting promotion.
var Reject = &Command[report.RejectRequest, *report.Promotion]{
	Info: Info{Name: "reject", Route: "POST /api/v1/promotions/{id}/reject", Action: approve, Summary: "reject ID --reason R"},
	Authorize: func(ctx context.Context, x Site, req report.RejectRequest) error {
		return decidable(ctx, x, req.ID)
	},
	Run: func(ctx context.Context, x Site, req report.RejectRequest) (*report.Promotion, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Promotion, error) { return report.Reject(ctx, e, req.ID, req) })
	},
}

// Freeze is `freeze`: close an environment to deployments.
var Freeze = &Command[report.FreezeRequest, *strata.Freeze]{
	Info: Info{Name: "freeze", Route: "POST /api/v1/freezes", Action: admin, Summary: "freeze ENV --reason R"},
	Authorize: func(ctx context.Context, x Site, req report.FreezeRequest) error {
		return x.Allow(ctx, admin, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.FreezeRequest) (*strata.Freeze, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*strata.Freeze, error) { return report.Freeze(ctx, e, req.Env, req.Reason) })
	},
}

// Unfreeze is `unfreeze`: reopen a frozen environment.
var Unfreeze = &Command[report.UnfreezeRequest, *report.Unfrozen]{
	Info: Info{Name: "unfreeze", Route: "DELETE /api/v1/freezes/{env}", Action: admin, Summary: "unfreeze ENV"},
	Authorize: func(ctx context.Context, x Site, req report.UnfreezeRequest) error {
		return x.Allow(ctx, admin, req.Env)
	},
	Run: func(ctx context.Context, x Site, req report.UnfreezeRequest) (*report.Unfrozen, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Unfrozen, error) { return report.Unfreeze(ctx, e, req.Env) })
	},
}

// Audit is `audit`: the audit log, or with Verify (admin) its verification.
var Audit = &Command[report.AuditRequest, *report.AuditLog]{
	Info: Info{Name: "audit", Route: "GET /api/v1/audit", Action: read, Summary: "audit [--verify]"},
	Authorize: func(ctx context.Context, x Site, req report.AuditRequest) error {
		if req.Verify {
			return x.Allow(ctx, admin)
		}
		return allowIfNamed(ctx, x, read, req.Env)
	},
	Run: audit,
}

// Resume is `resume`: run interrupted deployments and promotions whose gates opened.
var Resume = &Command[None, *report.Resume]{
	Info: Info{Name: "resume", Route: "POST /api/v1/resume", Action: admin, Summary: "resume"},
	Run: func(ctx context.Context, x Site, _ None) (*report.Resume, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.Resume, error) { return report.ResumeAll(ctx, e) })
	},
}

// Drift is `drift`: config and version drift.
var Drift = &Command[report.DriftRequest, *report.Drift]{
	Info: Info{Name: "drift", Route: "GET /api/v1/drift", Action: read, Summary: "drift [--env ENV]"},
	Authorize: func(ctx context.Context, x Site, req report.DriftRequest) error {
		return allowIfNamed(ctx, x, read, req.Env)
	},
	Run: drift,
}

// GC is `gc`: remove the bundles no release that can still be deployed needs.
var GC = &Command[report.GCRequest, *report.GC]{
	Info: Info{Name: "gc", Route: "POST /api/v1/gc", Action: admin, Summary: "gc [--keep N] [--dry-run]"},
	Run: func(ctx context.Context, x Site, req report.GCRequest) (*report.GC, error) {
		return onEngine(ctx, x, func(e *engine.Engine) (*report.GC, error) { return report.CollectBundles(ctx, e, req) })
	},
}

// Agents is `agent list`: the agents that registered, and what each runs.
var Agents = &Command[None, []report.Agent]{
	Info: Info{Name: "agent list", Route: "GET /api/v1/agents", Action: read, Summary: "agent list"},
	Run:  agents,
}

// Stats is `stats`: the DORA figures of each service over a window.
var Stats = &Command[report.StatsRequest, *report.Stats]{
	Info: Info{Name: "stats", Route: "GET /api/v1/stats", Action: read, Summary: "stats [--service S] [--since 30d]"},
	Run:  stats,
}

// Graph is `graph`: the estate drawn (environments, stages, services).
var Graph = &Command[report.GraphRequest, *report.Graph]{
	Info: Info{Name: "graph", Route: "GET /api/v1/graph", Action: read, Summary: "graph [--format dot|mermaid|svg] [--env E] [--service S]"},
	Run:  graph,
}
