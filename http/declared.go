package http

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// The declared commands (package command) as routes, as client requests and as OpenAPI
// entries. A request type's fields say where each travels: `path:"NAME"` fills {NAME} in
// the route, `query:"NAME"` is a query parameter, and every other field with a JSON name is
// in the JSON body.

// field is one field of a request type and where it travels.
type field struct {
	index int
	name  string
	in    string // "path", "query" or "body"
	doc   string
	kind  reflect.Kind
	// required is set for a body field without omitempty.
	required bool
}

// fieldsOf returns the fields of request type t that travel in a request.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		x := field{index: i, kind: f.Type.Kind(), doc: f.Tag.Get("doc")}
		switch name, opts, _ := strings.Cut(f.Tag.Get("json"), ","); {
		case f.Tag.Get("path") != "":
			x.name, x.in = f.Tag.Get("path"), "path"
		case f.Tag.Get("query") != "":
			x.name, x.in = f.Tag.Get("query"), "query"
		case name == "-":
			continue
		default:
			if name == "" {
				name = f.Name
			}
			x.name, x.in, x.required = name, "body", !strings.Contains(opts, "omitempty")
		}
		out = append(out, x)
	}
	return out
}

// bodyOf reports whether requests of type t carry a JSON body, and whether it may be left
// out (none of its fields is required).
func bodyOf(t reflect.Type) (has, optional bool) {
	optional = true
	for _, f := range fieldsOf(t) {
		if f.in == "body" {
			has = true
			optional = optional && !f.required
		}
	}
	return has, optional
}

// declaredRoute is the route of a declared command: the route's action is checked (handle),
// then the request is read from the path, the query and the body, authorized and run on the
// request's site. Changes run in a context a client hanging up does not cancel.
func (s *Server) declaredRoute(d command.Decl) route {
	info := d.Declared()
	return route{Method: info.Method(), Path: info.Path(), Action: info.Action, Summary: info.Summary, decl: d,
		serve: func(c *call) (any, error) {
			if d == command.Decl(command.Status) {
				return c.s.serveStatus(c, d)
			}
			ctx := c.r.Context()
			if c.r.Method != "GET" {
				ctx = c.work()
			}
			return d.Serve(ctx, site{c}, c.decodeRequest)
		}}
}

// decodeRequest fills the request req points to from the path, the query and the body.
// Every failure is EINVALID naming the parameter or field.
func (c *call) decodeRequest(req any) error {
	v := reflect.ValueOf(req).Elem()
	for _, f := range fieldsOf(v.Type()) {
		dst := v.Field(f.index)
		switch f.in {
		case "path":
			dst.SetString(c.r.PathValue(f.name))
		case "query":
			switch f.kind {
			case reflect.Bool:
				b, err := c.flag(f.name)
				if err != nil {
					return err
				}
				dst.SetBool(b)
			case reflect.Int, reflect.Int64:
				n, err := c.intParam(f.name)
				if err != nil {
					return err
				}
				dst.SetInt(n)
			default:
				dst.SetString(c.q(f.name))
			}
		}
	}
	switch has, optional := bodyOf(v.Type()); {
	case !has:
		return nil
	case optional:
		return c.decodeOptional(req)
	}
	return c.decode(req)
}

// encodeRequest returns the path and query of req, a request of the command whose route's
// path pattern is pattern: the client's half of decodeRequest.
func encodeRequest(pattern string, req any) (path string, query url.Values) {
	v := reflect.ValueOf(req)
	path = pattern
	for _, f := range fieldsOf(v.Type()) {
		x := v.Field(f.index)
		switch f.in {
		case "path":
			path = strings.Replace(path, "{"+f.name+"}", url.PathEscape(x.String()), 1)
		case "query":
			if x.IsZero() {
				continue
			}
			if query == nil {
				query = url.Values{}
			}
			switch f.kind {
			case reflect.Bool:
				query.Set(f.name, "1")
			case reflect.Int, reflect.Int64:
				query.Set(f.name, strconv.FormatInt(x.Int(), 10))
			default:
				query.Set(f.name, x.String())
			}
		}
	}
	return path, query
}

// Run runs the declared command cmd on the server c talks to: one API request. It returns
// the same document, and an error with the same code, as cmd.Run returns locally; when the
// server sent a document with its error (a promotion waiting on a gate), both come back.
func Run[Req, Doc any](ctx context.Context, c *Client, cmd *command.Command[Req, Doc], req Req) (Doc, error) {
	var doc Doc
	ok, err := c.send(ctx, cmd, req, &doc)
	if !ok {
		var none Doc
		return none, err
	}
	return doc, err
}

// send sends req, a request of the declared command d, and decodes the answer into doc
// (see do).
func (c *Client) send(ctx context.Context, d command.Decl, req, doc any) (ok bool, err error) {
	info := d.Declared()
	method := info.Method()
	path, query := encodeRequest(info.Path(), req)
	var body any
	if method != "GET" && method != "DELETE" {
		body = req
	}
	return c.do(ctx, method, path, query, body, doc)
}

// site is a declared command's view of one API request: the server's project and store,
// acted on as the token's principal, who may do what the token's role and environments
// cover.
type site struct{ c *call }

func (x site) Engine(context.Context) (*engine.Engine, error)   { return x.c.eng, nil }
func (x site) Project(context.Context) (*strata.Project, error) { return x.c.p, nil }
func (x site) Store(context.Context) (strata.Store, error)      { return x.c.s.store, nil }

func (x site) Deployed(ctx context.Context) (map[plan.Pair]*strata.Deployment, error) {
	return x.c.eng.Current(ctx)
}

// Check returns the project the server runs: it was checked when the server started.
func (x site) Check(context.Context) (*strata.Project, strata.Problems, error) {
	return x.c.p, nil, nil
}

// Changes returns a copy of the request's engine on a copy of the project, which requests
// in flight may be reading.
func (x site) Changes(context.Context) (*engine.Engine, error) {
	e := *x.c.eng
	e.Project = cloneProject(x.c.p)
	return &e, nil
}

func (x site) Publish(change func(p *strata.Project)) { x.c.s.changeProject(change) }

func (x site) Allow(ctx context.Context, action string, envs ...string) error {
	return x.AllowIn(ctx, x.c.p, action, envs...)
}

func (x site) AllowIn(ctx context.Context, p *strata.Project, action string, envs ...string) error {
	return x.c.s.authorize(ctx, x.c.r, x.c.tok, p, action, envs...)
}

func (x site) Covers(env string) bool { return x.c.covered(env) }
func (x site) CoversAll() bool        { return coversAll(x.c.tok) }

// Scope is the token's selectors, or nil when it covers every environment.
func (x site) Scope() []string {
	if coversAll(x.c.tok) {
		return nil
	}
	return x.c.tok.Selectors()
}

// Follow answers with server-sent events (followLogs).
func (x site) Follow(_ context.Context, d *strata.Deployment, after int64) bool {
	x.c.wrote = true
	x.c.s.followLogs(x.c, d, after)
	return true
}

// checkDeclared reports what keeps d from being served: a route the mux would not read, a
// path parameter without a field or the other way round, a body on a GET or DELETE, a
// field that travels two ways, a query field of a type the server cannot read.
func checkDeclared(d command.Decl) error {
	info := d.Declared()
	m, path := info.Method(), info.Path()
	if m == "" || !strings.HasPrefix(path, "/") || info.Name == "" || info.Action == "" {
		return fmt.Errorf("command %q: want a name, an action and a route such as \"GET /api/v1/x\", have %q", info.Name, info.Route)
	}
	t := d.Request()
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("command %s: its request %s is not a struct", info, t)
	}
	want := map[string]bool{}
	for _, sub := range pathParam.FindAllStringSubmatch(path, -1) {
		want[sub[1]] = true
	}
	for _, f := range fieldsOf(t) {
		tag := t.Field(f.index).Tag
		switch f.in {
		case "path":
			if !want[f.name] {
				return fmt.Errorf("command %s: field %s is path parameter {%s}, which the route lacks", info, t.Field(f.index).Name, f.name)
			}
			delete(want, f.name)
			if f.kind != reflect.String {
				return fmt.Errorf("command %s: path parameter {%s} must be a string", info, f.name)
			}
		case "query":
			if f.kind != reflect.String && f.kind != reflect.Bool && f.kind != reflect.Int && f.kind != reflect.Int64 {
				return fmt.Errorf("command %s: query parameter %s must be a string, bool or int", info, f.name)
			}
		case "body":
			if m == "GET" || m == "DELETE" {
				return fmt.Errorf("command %s: field %s would be a body, which a %s has none of; tag it path or query", info, t.Field(f.index).Name, m)
			}
		}
		if f.in != "body" && m != "GET" && m != "DELETE" && tag.Get("json") != "-" {
			return fmt.Errorf("command %s: field %s travels in the %s; tag it json:\"-\" so the body does not carry it too", info, t.Field(f.index).Name, f.in)
		}
	}
	for name := range want {
		return fmt.Errorf("command %s: the route's {%s} has no field tagged path:%q", info, name, name)
	}
	return nil
}
