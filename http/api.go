package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/engine"
)

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

// route is one API route: what it needs and who serves it.
type route struct {
	Method, Path string
	// Action is what the token's role must permit (strata.ActRead, ...); "" means public.
	Action  string
	Summary string
	serve   func(c *call) (any, error)
	// decl is the declared command the route serves (declared.go); nil for the routes only
	// a server has.
	decl command.Decl
}

// call is one authenticated API request.
type call struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	tok *strata.Token
	// p is the project as it was when the request came.
	p *strata.Project
	// eng acts as the token's principal, on p.
	eng *engine.Engine
	// wrote is set by a handler that wrote its own response (server-sent events).
	wrote bool
}

// allow checks the token permits action on every named environment.
func (c *call) allow(action string, envs ...string) error {
	return c.s.authorize(c.r.Context(), c.r, c.tok, c.p, action, envs...)
}

// work is the context changes run in: a client that hangs up does not stop a deployment
// half way (it ends on its own; the client can read it back).
func (c *call) work() context.Context { return context.WithoutCancel(c.r.Context()) }

// q returns a query parameter.
func (c *call) q(name string) string { return c.r.URL.Query().Get(name) }

// flag reads a boolean query parameter ("1", "true"); anything else is EINVALID.
func (c *call) flag(name string) (bool, error) {
	v := c.q(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, strata.Errorf(strata.EINVALID, "query parameter %s=%q: want 1, 0, true or false", name, v)
	}
	return b, nil
}

// intParam reads a non-negative integer query parameter.
func (c *call) intParam(name string) (int64, error) {
	v := c.q(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, strata.Errorf(strata.EINVALID, "query parameter %s=%q: want a whole number, 0 or more", name, v)
	}
	return n, nil
}

// decode reads the JSON body into v: one object, at most maxBody bytes, no unknown fields.
// Every failure is EINVALID naming the field or the place.
func (c *call) decode(v any) error {
	body := http.MaxBytesReader(c.w, c.r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return strata.Errorf(strata.EINVALID, "request body holds more than one JSON value; send one object")
		}
		return nil
	}
	var maxErr *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return strata.Errorf(strata.EINVALID, "request body is larger than %d bytes (1 MiB); send less", maxBody)
	case errors.Is(err, io.EOF):
		return strata.Errorf(strata.EINVALID, "request body is empty; send a JSON object with %s", fieldList(v))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return strata.Errorf(strata.EINVALID, "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &syntax):
		return strata.Errorf(strata.EINVALID, "malformed JSON at byte %d: %w", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return strata.Errorf(strata.EINVALID, "request body is JSON %s; send an object with %s", typ.Value, fieldList(v))
		}
		return strata.Errorf(strata.EINVALID, "field %q: want %s, got JSON %s", typ.Field, jsonKind(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return strata.Errorf(strata.EINVALID, "unknown field %s; known fields: %s", field, fieldList(v))
	}
	return strata.Errorf(strata.EINVALID, "malformed JSON: %w", err)
}

// decodeOptional reads a body that may be absent.
func (c *call) decodeOptional(v any) error {
	if c.r.ContentLength == 0 {
		return nil
	}
	err := c.decode(v)
	if err != nil && strings.HasPrefix(err.Error(), "request body is empty") {
		return nil
	}
	return err
}

// fieldList names the JSON fields of the struct v points to.
func fieldList(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "its fields"
	}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// encodeJSON returns v as indented JSON, as the CLI prints it.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeJSON writes v as indented JSON, as the CLI prints it. The document is encoded whole
// before the status line is written: a value that cannot be encoded is an internal error
// (500, logged), never a 200 with an empty or cut-off body.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := encodeJSON(v)
	if err != nil {
		err = fmt.Errorf("%s %s: encode the answer: %w", r.Method, r.URL.Path, err)
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		h := w.Header()
		h.Del(ErrorHeader)
		h.Set(ExitHeader, strconv.Itoa(strata.ExitStatus(err)))
		h.Set(ErrorCodeHeader, strata.EINTERNAL)
		status = http.StatusInternalServerError
		body, _ = encodeJSON(errorDoc{Error: errorBody{Code: strata.EINTERNAL, Message: internalMessage}})
	}
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get(ExitHeader) == "" {
		w.Header().Set(ExitHeader, "0")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client that hung up: nothing to tell it
}

// handle adapts a route to an http.Handler: authentication, the role check, then the
// route's handler, whose document or error becomes the response.
func (s *Server) handle(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{s: s, w: w, r: r, p: s.cur.Load()}
		if rt.Action != "" {
			t, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err, nil)
				return
			}
			r = withToken(r, t)
			c.r, c.tok = r, t
			e := *s.engine
			e.Actor, e.Project = t.Name, c.p
			c.eng = &e
			if err := c.allow(rt.Action); err != nil {
				s.writeError(w, r, err, nil)
				return
			}
		}
		doc, err := s.safely(rt, c)
		if c.wrote {
			return
		}
		if isNil(doc) {
			doc = nil
		}
		if err != nil {
			s.writeError(w, r, err, doc)
			return
		}
		s.writeJSON(w, r, http.StatusOK, doc)
	})
}

// safely runs a handler, turning a panic into an internal error: bad input never takes the
// server down.
func (s *Server) safely(rt route, c *call) (doc any, err error) {
	defer func() {
		if p := recover(); p != nil {
			doc, err = nil, fmt.Errorf("%s %s: panic: %v", rt.Method, rt.Path, p)
		}
	}()
	return rt.serve(c)
}

// isNil reports whether v is nil or a nil pointer, slice or map in an interface (a
// builder that failed returns a typed nil).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice:
		return rv.IsNil()
	}
	return false
}

// notFound answers any other /api/ path.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, strata.Errorf(strata.ENOTFOUND, "no API route %s %s; /api/v1/openapi.json lists them", r.Method, r.URL.Path), nil)
}

// routes registers every route on mux: the server's own and one per declared command
// (Config.Commands), each of which must be servable (checkDeclared) and have a route of its
// own.
func (s *Server) routes(mux *http.ServeMux) error {
	s.commands = s.cfg.Commands
	if s.commands == nil {
		s.commands = command.All()
	}
	for _, d := range s.commands {
		if err := checkDeclared(d); err != nil {
			return err
		}
	}
	for _, rt := range s.apiRoutes() {
		if err := handleRoute(mux, rt.Method+" "+rt.Path, s.handle(rt)); err != nil {
			return err
		}
	}
	mux.HandleFunc("/api/", s.notFound)
	return nil
}

// handleRoute registers h on mux, turning the mux's panic on a pattern it cannot take (one
// that another route already has, or that overlaps one) into an error.
func handleRoute(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("route %s: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// apiRoutes is the API, in the order docs/api.md lists it: the routes only a server has,
// then one per declared command.
func (s *Server) apiRoutes() []route {
	routes := []route{
		{Method: "GET", Path: "/healthz", Summary: "Liveness: 200 when the server runs and its store answers", serve: s.healthz},
		{Method: "GET", Path: "/readyz", Summary: "Readiness: 200 when the store answers at this binary's schema and the scheduler runs, else 503 naming what is not ready", serve: s.readyz},
		{Method: "GET", Path: "/metrics", Action: strata.ActRead, Summary: "Prometheus metrics", serve: s.serveMetrics},
		{Method: "GET", Path: "/api/v1/openapi.json", Action: strata.ActRead, Summary: "This API as an OpenAPI 3.1 document", serve: s.openapi},
		{Method: "POST", Path: "/api/v1/bundles", Action: strata.ActDeploy, Summary: "Upload a release's bundle (a tar stream of artifacts/ and recipe/) under its digest", serve: s.uploadBundle},
	}
	for _, d := range s.commands {
		routes = append(routes, s.declaredRoute(d))
	}
	return routes
}
