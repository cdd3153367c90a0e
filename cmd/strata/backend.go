package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/api"
	"github.com/strata-dev/strata/plan"
)

// backend is where commands run: here, on the project and store (local), or on a `strata
// serve` (*strhttp.Client). Both return the same documents and errors, so every command
// renders one way.
type backend interface {
	Validate(ctx context.Context) (*api.Validation, error)
	Environments(ctx context.Context) ([]api.Environment, error)
	Config(ctx context.Context, service, env string, explain bool) (*api.Config, error)
	Diff(ctx context.Context, a, b string) (*api.Diff, error)
	Release(ctx context.Context, req api.ReleaseRequest) (*api.Release, error)
	Deploy(ctx context.Context, req api.DeployRequest) (*api.Deployment, error)
	Rollback(ctx context.Context, req api.RollbackRequest) (*api.Deployment, error)
	Promote(ctx context.Context, req api.PromoteRequest) (*api.Promotion, error)
	Plan(ctx context.Context, req api.PromoteRequest) (*api.Promotion, error)
	Approve(ctx context.Context, id string, req api.ApproveRequest) (*api.Promotion, error)
	Reject(ctx context.Context, id string, req api.RejectRequest) (*api.Promotion, error)
	Status(ctx context.Context) (*api.Status, error)
	History(ctx context.Context, q api.HistoryQuery) ([]api.Deployment, error)
	Logs(ctx context.Context, id string, after int64) (*api.Logs, error)
	Resume(ctx context.Context) (*api.Resume, error)
	Freeze(ctx context.Context, req api.FreezeRequest) (*strata.Freeze, error)
	Unfreeze(ctx context.Context, env string) (*api.Unfrozen, error)
	Audit(ctx context.Context, f strata.EventFilter) ([]*strata.Event, error)
	Verify(ctx context.Context) (*api.Verification, error)
	Drift(ctx context.Context, env string) (*api.Drift, error)
	CreateEnv(ctx context.Context, req api.EnvCreateRequest) (*api.Ephemeral, error)
	DestroyEnv(ctx context.Context, name string) (*api.Destroyed, error)
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

func (l local) Validate(ctx context.Context) (*api.Validation, error) {
	l.a.fullCheck = true // validate always checks everything
	p, problems, err := l.a.check()
	if err != nil {
		for _, w := range problems.Warnings() {
			fmt.Fprintln(l.a.stderr, w.Error())
		}
		return nil, err
	}
	return api.NewValidation(p, problems), nil
}

func (l local) Environments(ctx context.Context) ([]api.Environment, error) {
	p, err := l.a.projectWithEphemeral(ctx)
	if err != nil {
		return nil, err
	}
	return api.NewEnvironments(p), nil
}

func (l local) Config(ctx context.Context, service, env string, explain bool) (*api.Config, error) {
	p, err := l.a.projectWithEphemeral(ctx)
	if err != nil {
		return nil, err
	}
	return api.NewConfig(p, service, env, explain)
}

func (l local) Diff(ctx context.Context, a, b string) (*api.Diff, error) {
	p, err := l.a.projectWithEphemeral(ctx)
	if err != nil {
		return nil, err
	}
	return api.NewDiff(p, a, b, func() (map[plan.Pair]*strata.Deployment, error) { return l.current(ctx) })
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

func (l local) Release(ctx context.Context, req api.ReleaseRequest) (*api.Release, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.CutRelease(ctx, e, req)
}

func (l local) Deploy(ctx context.Context, req api.DeployRequest) (*api.Deployment, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.Deploy(ctx, e, req)
}

func (l local) Rollback(ctx context.Context, req api.RollbackRequest) (*api.Deployment, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.Rollback(ctx, e, req)
}

func (l local) Promote(ctx context.Context, req api.PromoteRequest) (*api.Promotion, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.Promote(ctx, e, req)
}

func (l local) Plan(ctx context.Context, req api.PromoteRequest) (*api.Promotion, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.Plan(ctx, e, req.Engine())
}

func (l local) Approve(ctx context.Context, id string, req api.ApproveRequest) (*api.Promotion, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.Approve(ctx, e, id, req)
}

func (l local) Reject(ctx context.Context, id string, req api.RejectRequest) (*api.Promotion, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.Reject(ctx, e, id, req)
}

func (l local) Status(ctx context.Context) (*api.Status, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.NewStatus(ctx, e)
}

func (l local) History(ctx context.Context, q api.HistoryQuery) ([]api.Deployment, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.NewHistory(ctx, e, q)
}

func (l local) Logs(ctx context.Context, id string, after int64) (*api.Logs, error) {
	s, err := l.a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	return api.NewLogs(ctx, s, id, after)
}

func (l local) Resume(ctx context.Context) (*api.Resume, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.ResumeAll(ctx, e)
}

func (l local) Freeze(ctx context.Context, req api.FreezeRequest) (*strata.Freeze, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.Freeze(ctx, e, req.Env, req.Reason)
}

func (l local) Unfreeze(ctx context.Context, env string) (*api.Unfrozen, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.Unfreeze(ctx, e, env)
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
	return api.Audit(ctx, s, p, f)
}

func (l local) Verify(ctx context.Context) (*api.Verification, error) {
	s, err := l.a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	return api.VerifyStore(ctx, s)
}

func (l local) Drift(ctx context.Context, env string) (*api.Drift, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.NewDrift(ctx, e, env)
}

func (l local) CreateEnv(ctx context.Context, req api.EnvCreateRequest) (*api.Ephemeral, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.CreateEnv(ctx, e, req)
}

func (l local) DestroyEnv(ctx context.Context, name string) (*api.Destroyed, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return api.DestroyEnv(ctx, e, name)
}
