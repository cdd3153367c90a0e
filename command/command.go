// Package command declares each of Strata's commands once — its name, its route in the
// API, the action a token's role must permit, its request and its document — with the
// operation that carries it out. One declaration drives all four places a command shows up:
// the CLI runs the operation here (on the project and store of -C DIR), the server serves
// it as a route (package http), the CLI's remote client sends it to that route, and the
// OpenAPI document describes it, its parameters and body read from the request type's tags.
//
// The operation runs on a Site: what the command acts on (an engine, the project, the
// store) and who asks. Locally the principal is self-asserted and may do anything; on a
// server it is a token, whose role and environments Site.Allow checks and Site.Covers
// filters lists by. So the same code answers both, and their output cannot drift apart.
//
// # Adding a command
//
//  1. Write its request type in package report (path, query and JSON tags: see
//     report/requests.go) and its document type, if new, with a text renderer.
//  2. Declare it in commands.go: a *Command[Req, Doc] with Name, Route, Action, Summary,
//     Run (and Authorize when the request names environments or stages a token must
//     cover), and add it to All. Write Run in the file of its topic (read.go, write.go,
//     env.go, logs.go) using only the Site.
//  3. In cmd/strata, write the cobra command: flags into the request, then
//     invoke(ctx, a, command.X, req) and render the document. Local and remote mode both work.
//  4. Add the route to docs/api.md's table and the command to docs/cli.md; the tests in
//     package http check that every declaration is served, reachable by the client and in
//     the OpenAPI document, and that docs/api.md names its route.
package command

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
)

// Info is what a command is called and where it is served.
type Info struct {
	// Name is the command as the CLI spells it ("env create"), or, for a route only the API
	// has, what it returns ("promotions").
	Name string
	// Route is the method and path pattern of its API route, as http.ServeMux reads them:
	// "GET /api/v1/config/{service}". Each {NAME} is a field of the request tagged
	// `path:"NAME"`.
	Route string
	// Action is what the token's role must permit (strata.ActRead, ...) before the request
	// is even read.
	Action string
	// Summary is the line the OpenAPI document gives the route: the command's usage.
	Summary string
}

// Method is the HTTP method of the command's route.
func (i *Info) Method() string {
	m, _, _ := strings.Cut(i.Route, " ")
	return m
}

// Path is the path pattern of the command's route.
func (i *Info) Path() string {
	_, p, _ := strings.Cut(i.Route, " ")
	return p
}

// Command is one declared command: Req is its request, Doc the document it returns (what
// `strata -o json` prints and the API's response body).
type Command[Req, Doc any] struct {
	Info
	// Authorize checks, before Run, that the principal may make this request: that its
	// token covers the environments or stages the request names. A server runs it; locally
	// the principal is self-asserted and it is not run. Nil means the route's Action is
	// all there is to check.
	Authorize func(ctx context.Context, x Site, req Req) error
	// Run carries the command out at x and returns its document. When it returns a
	// document and an error both (a promotion that waits on a gate, a deployment that
	// failed), the CLI prints the document and exits with the error's status.
	Run func(ctx context.Context, x Site, req Req) (Doc, error)
}

// Decl is a declared command of any request and document type: what the server and the
// OpenAPI document need, without knowing the types.
type Decl interface {
	// Declared returns the command's name and route.
	Declared() *Info
	// Request returns the type of the command's request.
	Request() reflect.Type
	// Document returns the type of the command's document (the OpenAPI response schema).
	Document() reflect.Type
	// Serve reads the request with decode (given a pointer to a new request), authorizes
	// it and runs the command at x, as a server does for one API request.
	Serve(ctx context.Context, x Site, decode func(req any) error) (doc any, err error)
}

// Declared returns the command's name and route.
func (c *Command[Req, Doc]) Declared() *Info { return &c.Info }

// Request returns the type of the command's request.
func (c *Command[Req, Doc]) Request() reflect.Type { return reflect.TypeFor[Req]() }

// Document returns the type of the command's document.
func (c *Command[Req, Doc]) Document() reflect.Type { return reflect.TypeFor[Doc]() }

// Serve reads the request, authorizes it and runs the command, as a server does.
func (c *Command[Req, Doc]) Serve(ctx context.Context, x Site, decode func(req any) error) (any, error) {
	var req Req
	if err := decode(&req); err != nil {
		return nil, err
	}
	if c.Authorize != nil {
		if err := c.Authorize(ctx, x, req); err != nil {
			return nil, err
		}
	}
	return c.Run(ctx, x, req)
}

// None is the request of a command that takes nothing.
type None struct{}

// Site is where a command runs: the project and store in the CLI's -C DIR, for a principal
// who may do anything, or a server's, for one request's token. Getters may open the store
// or load the project on first use, hence the error; a server has them at hand.
type Site interface {
	// Engine returns the engine the command acts through, as the principal.
	Engine(ctx context.Context) (*engine.Engine, error)
	// Project returns the project, with its short-lived environments.
	Project(ctx context.Context) (*strata.Project, error)
	// Store returns the store, for reads that need no engine.
	Store(ctx context.Context) (strata.Store, error)
	// Deployed returns what runs in each (service, environment). Locally, with no store on
	// disk yet, it is nothing (a store is not created to say so).
	Deployed(ctx context.Context) (map[plan.Pair]*strata.Deployment, error)
	// Check loads the project and runs every check, returning it with its warnings: the
	// files on disk locally (warnings go to stderr when it fails), the project it serves
	// on a server.
	Check(ctx context.Context) (*strata.Project, strata.Problems, error)
	// Changes returns an engine whose project is a copy of its own, for a command that adds
	// or removes short-lived environments; Publish makes the change seen by later commands.
	Changes(ctx context.Context) (*engine.Engine, error)
	// Publish applies change to the project later commands see. Locally it does nothing:
	// every command loads the project and the environments in the store afresh.
	Publish(change func(p *strata.Project))

	// Allow checks the principal may do action on every named environment of the site's
	// project; AllowIn checks it against p (a project with an environment still to be
	// made). An unknown environment is ENOTFOUND; a refusal is a *Denied. Locally both
	// allow everything.
	Allow(ctx context.Context, action string, envs ...string) error
	AllowIn(ctx context.Context, p *strata.Project, action string, envs ...string) error
	// Covers reports whether the principal may see the named environment; CoversAll,
	// whether it may see every one (a list needs no filtering). Locally both are true.
	Covers(env string) bool
	CoversAll() bool
	// Scope names the selectors the principal is limited to ("tier=dev"); nil when it
	// covers every environment.
	Scope() []string
	// Matrix returns the status matrix of every environment of the project, a new document
	// the caller may change: locally read from the store, on a server built from the one
	// snapshot it keeps for every request.
	Matrix(ctx context.Context) (*report.Status, error)
	// SetNext says where the next page of the list being answered begins (a cursor; ""
	// when the list ended) for documents that are JSON arrays and so have no "next" of
	// their own: a server sends it as the X-Next-Cursor and Link headers. Locally the CLI
	// says so itself.
	SetNext(cursor string)
	// Follow streams d's output after the chunk numbered after until d ends, when the site
	// answers a client that can take a stream (a server's server-sent events), and reports
	// whether it did; otherwise the command answers with the output stored now.
	Follow(ctx context.Context, d *strata.Deployment, after int64) bool
}

// Denied is the error of a principal who is known but whose role or environments do not
// cover the request: a server answers 403, where a missing or bad token is 401. Its code is
// EUNAUTHORIZED (exit status 4).
type Denied struct{ Err *strata.Error }

// Error is the message, which says what the principal lacks.
func (d *Denied) Error() string { return d.Err.Error() }

// Unwrap gives errors.As and strata.ErrorCode the *strata.Error inside.
func (d *Denied) Unwrap() error { return d.Err }

// Deny returns a *Denied whose message says what the principal lacks.
func Deny(format string, args ...any) error {
	return &Denied{Err: strata.Errorf(strata.EUNAUTHORIZED, format, args...)}
}

// String names the command and its route, for messages.
func (i *Info) String() string { return fmt.Sprintf("%s (%s)", i.Name, i.Route) }
