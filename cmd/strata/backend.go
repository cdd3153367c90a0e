package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
)

// backend is where commands run: here, on the project and store (local), or on a `strata
// serve` (*strhttp.Client). Both return the same documents and errors, so every command
// renders one way.
type backend interface {
	Validate(ctx context.Context) (*report.Validation, error)
	Environments(ctx context.Context) ([]report.Environment, error)
	Config(ctx context.Context, service, env string, explain bool) (*report.Config, error)
	Diff(ctx context.Context, a, b string) (*report.Diff, error)
	Release(ctx context.Context, req report.ReleaseRequest) (*report.Release, error)
	Deploy(ctx context.Context, req report.DeployRequest) (*report.Deployment, error)
	Rollback(ctx context.Context, req report.RollbackRequest) (*report.Deployment, error)
	Promote(ctx context.Context, req report.PromoteRequest) (*report.Promotion, error)
	Plan(ctx context.Context, req report.PromoteRequest) (*report.Promotion, error)
	Approve(ctx context.Context, id string, req report.ApproveRequest) (*report.Promotion, error)
	Reject(ctx context.Context, id string, req report.RejectRequest) (*report.Promotion, error)
	Status(ctx context.Context) (*report.Status, error)
	History(ctx context.Context, q report.HistoryQuery) ([]report.Deployment, error)
	Logs(ctx context.Context, id string, after int64) (*report.Logs, error)
	Resume(ctx context.Context) (*report.Resume, error)
	Freeze(ctx context.Context, req report.FreezeRequest) (*strata.Freeze, error)
	Unfreeze(ctx context.Context, env string) (*report.Unfrozen, error)
	Audit(ctx context.Context, f strata.EventFilter) ([]*strata.Event, error)
	Verify(ctx context.Context) (*report.Verification, error)
	Drift(ctx context.Context, env string) (*report.Drift, error)
	CreateEnv(ctx context.Context, req report.EnvCreateRequest) (*report.Ephemeral, error)
	DestroyEnv(ctx context.Context, name string) (*report.Destroyed, error)
}

// show prints a command's document. When the command failed but still has a document (a
// deployment that failed), the document goes out with -o json and the error decides the
// exit status.
func show[D any](a *app, doc *D, err error, text func(w io.Writer)) error {
	if doc == nil {
		return err
	}
	if err != nil {
		return &resultError{err: err, doc: doc}
	}
	return a.print(doc, text)
}

// showAlways is show for documents that are printed as text even when the command fails
// (every gate of a waiting promotion, the drift found).
func showAlways[D any](a *app, doc *D, err error, text func(w io.Writer)) error {
	if doc == nil {
		return err
	}
	if err != nil {
		return &resultError{err: err, doc: doc, text: text}
	}
	return a.print(doc, text)
}

// local runs commands on the project in -C DIR and its store.
type local struct{ a *app }

func (l local) Validate(ctx context.Context) (*report.Validation, error) {
	l.a.fullCheck = true // validate always checks everything
	p, problems, err := l.a.check()
	if err != nil {
		for _, w := range problems.Warnings() {
			fmt.Fprintln(l.a.stderr, w.Error())
		}
		return nil, err
	}
	return report.NewValidation(p, problems), nil
}

func (l local) Environments(ctx context.Context) ([]report.Environment, error) {
	p, err := l.a.projectWithEphemeral(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewEnvironments(p), nil
}

func (l local) Config(ctx context.Context, service, env string, explain bool) (*report.Config, error) {
	p, err := l.a.projectWithEphemeral(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewConfig(p, service, env, explain)
}

func (l local) Diff(ctx context.Context, a, b string) (*report.Diff, error) {
	p, err := l.a.projectWithEphemeral(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewDiff(p, a, b, func() (map[plan.Pair]*strata.Deployment, error) { return l.current(ctx) })
}

// current returns what runs in each (service, environment); with no store on disk yet,
// nothing (a store is not created for this).
func (l local) current(ctx context.Context) (map[plan.Pair]*strata.Deployment, error) {
	if l.a.storeURL == "" {
		if _, err := os.Stat(l.a.storePath()); err != nil {
			return map[plan.Pair]*strata.Deployment{}, nil
		}
	}
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return e.Current(ctx)
}

func (l local) Release(ctx context.Context, req report.ReleaseRequest) (*report.Release, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.CutRelease(ctx, e, req)
}

func (l local) Deploy(ctx context.Context, req report.DeployRequest) (*report.Deployment, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.Deploy(ctx, e, req)
}

func (l local) Rollback(ctx context.Context, req report.RollbackRequest) (*report.Deployment, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.Rollback(ctx, e, req)
}

func (l local) Promote(ctx context.Context, req report.PromoteRequest) (*report.Promotion, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.Promote(ctx, e, req)
}

func (l local) Plan(ctx context.Context, req report.PromoteRequest) (*report.Promotion, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.Plan(ctx, e, req.Engine())
}

func (l local) Approve(ctx context.Context, id string, req report.ApproveRequest) (*report.Promotion, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.Approve(ctx, e, id, req)
}

func (l local) Reject(ctx context.Context, id string, req report.RejectRequest) (*report.Promotion, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.Reject(ctx, e, id, req)
}

func (l local) Status(ctx context.Context) (*report.Status, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewStatus(ctx, e)
}

func (l local) History(ctx context.Context, q report.HistoryQuery) ([]report.Deployment, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewHistory(ctx, e, q)
}

func (l local) Logs(ctx context.Context, id string, after int64) (*report.Logs, error) {
	s, err := l.a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewLogs(ctx, s, id, after)
}

func (l local) Resume(ctx context.Context) (*report.Resume, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.ResumeAll(ctx, e)
}

func (l local) Freeze(ctx context.Context, req report.FreezeRequest) (*strata.Freeze, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.Freeze(ctx, e, req.Env, req.Reason)
}

func (l local) Unfreeze(ctx context.Context, env string) (*report.Unfrozen, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.Unfreeze(ctx, e, env)
}

func (l local) Audit(ctx context.Context, f strata.EventFilter) ([]*strata.Event, error) {
	s, err := l.a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	var p *strata.Project
	if f.Environment != "" {
		p, _ = l.a.loadProject() // without a readable project, promotion events are not matched to stages
	}
	return report.Audit(ctx, s, p, f)
}

func (l local) Verify(ctx context.Context) (*report.Verification, error) {
	s, err := l.a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	return report.VerifyStore(ctx, s)
}

func (l local) Drift(ctx context.Context, env string) (*report.Drift, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewDrift(ctx, e, env)
}

func (l local) CreateEnv(ctx context.Context, req report.EnvCreateRequest) (*report.Ephemeral, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.CreateEnv(ctx, e, req)
}

func (l local) DestroyEnv(ctx context.Context, name string) (*report.Destroyed, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.DestroyEnv(ctx, e, name)
}
