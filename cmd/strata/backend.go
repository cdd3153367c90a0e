package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
)

// invoke runs a declared command where commands run: on the server --server names (one API
// request, as the token's principal), else here on the project in -C DIR and its store. Both
// return the same document and error, so every command renders one way.
func invoke[Req, Doc any](ctx context.Context, a *app, c *command.Command[Req, Doc], req Req) (Doc, error) {
	a.next = ""
	if a.client != nil {
		return strhttp.Run(strhttp.WithNext(ctx, &a.next), a.client, c, req)
	}
	return c.Run(ctx, local{a}, req)
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

// local is the site of commands run here: the project in -C DIR and its store, each opened
// on first use, for a principal who is self-asserted (--as) and may do anything.
type local struct{ a *app }

func (l local) Engine(ctx context.Context) (*engine.Engine, error) { return l.a.engine(ctx) }

func (l local) Project(ctx context.Context) (*strata.Project, error) {
	return l.a.projectWithEphemeral(ctx)
}

func (l local) Store(ctx context.Context) (strata.Store, error) { return l.a.openStore(ctx) }

// Deployed returns what runs in each (service, environment); with no store on disk yet,
// nothing (a store is not created for this).
func (l local) Deployed(ctx context.Context) (map[plan.Pair]*strata.Deployment, error) {
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

// Check runs every check of strata.yaml, even when an identical project passed before; when
// it fails, its warnings go to stderr (the error holds the errors).
func (l local) Check(context.Context) (*strata.Project, strata.Problems, error) {
	l.a.fullCheck = true
	p, problems, err := l.a.check()
	if err != nil {
		for _, w := range problems.Warnings() {
			fmt.Fprintln(l.a.stderr, w.Error())
		}
		return nil, problems, err
	}
	return p, problems, nil
}

// Changes is the engine: this process's project is its own.
func (l local) Changes(ctx context.Context) (*engine.Engine, error) { return l.a.engine(ctx) }

// Publish does nothing: the next command loads the project and the store's short-lived
// environments afresh.
func (l local) Publish(func(p *strata.Project)) {}

func (l local) Allow(context.Context, string, ...string) error { return nil }

func (l local) AllowIn(context.Context, *strata.Project, string, ...string) error { return nil }

func (l local) Covers(string) bool { return true }

func (l local) CoversAll() bool { return true }

// Scope is nil: locally every environment is covered.
func (l local) Scope() []string { return nil }

// Matrix reads the status matrix from the store.
func (l local) Matrix(ctx context.Context) (*report.Status, error) {
	e, err := l.a.engine(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewStatus(ctx, e)
}

// SetNext keeps where the list's next page begins, for noteLimit.
func (l local) SetNext(cursor string) { l.a.next = cursor }

// Follow does not stream: `logs --follow` asks again until the deployment ends.
func (l local) Follow(context.Context, *strata.Deployment, int64) bool { return false }
