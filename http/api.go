package http

import (
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

// writeJSON writes v as indented JSON, as the CLI prints it.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get(ExitHeader) == "" {
		w.Header().Set(ExitHeader, "0")
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // a client that hung up: nothing to tell it
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
		writeJSON(w, http.StatusOK, doc)
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
	case reflect.Pointer, reflect.Map:
		return rv.IsNil()
	}
	return false
}

// notFound answers any other /api/ path.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, strata.Errorf(strata.ENOTFOUND, "no API route %s %s; /api/v1/openapi.json lists them", r.Method, r.URL.Path), nil)
}

// routes registers every route on mux.
func (s *Server) routes(mux *http.ServeMux) {
	for _, rt := range s.apiRoutes() {
		mux.Handle(rt.Method+" "+rt.Path, s.handle(rt))
	}
	mux.HandleFunc("/api/", s.notFound)
}

// apiRoutes is the API, in the order docs/api.md lists it.
func (s *Server) apiRoutes() []route {
	read, deploy, approve, admin := strata.ActRead, strata.ActDeploy, strata.ActApprove, strata.ActAdmin
	return []route{
		{"GET", "/healthz", "", "Liveness: 200 when the server runs and its store answers", s.healthz},
		{"GET", "/metrics", read, "Prometheus metrics", s.serveMetrics},
		{"GET", "/api/v1/openapi.json", read, "This API as an OpenAPI 3.1 document", s.openapi},
		{"GET", "/api/v1/validate", read, "validate", s.validate},
		{"GET", "/api/v1/environments", read, "env list", s.environments},
		{"POST", "/api/v1/environments", deploy, "env create NAME --like ENV [--ttl D] [--label k=v]", s.createEnv},
		{"DELETE", "/api/v1/environments/{name}", deploy, "env destroy NAME", s.destroyEnv},
		{"GET", "/api/v1/config/{service}", read, "config SERVICE --env ENV [--explain]", s.config},
		{"GET", "/api/v1/diff", read, "diff ENV_A ENV_B", s.diff},
		{"GET", "/api/v1/status", read, "status", s.status},
		{"GET", "/api/v1/deployments", read, "history [SERVICE] [--env ENV]", s.history},
		{"GET", "/api/v1/deployments/{id}", read, "one deployment", s.deployment},
		{"GET", "/api/v1/deployments/{id}/logs", read, "logs ID [--follow]", s.logs},
		{"POST", "/api/v1/releases", deploy, "release SERVICE [--version V]", s.release},
		{"POST", "/api/v1/deployments", deploy, "deploy SERVICE[@VERSION] --env ENV", s.deploy},
		{"POST", "/api/v1/rollbacks", deploy, "rollback SERVICE --env ENV [--to VERSION]", s.rollback},
		{"POST", "/api/v1/promotions", deploy, "promote SERVICE[@VERSION] [--to STAGE]", s.promote},
		{"GET", "/api/v1/promotions", read, "promotions, newest first", s.promotions},
		{"GET", "/api/v1/promotions/{id}", read, "one promotion with its gates", s.promotion},
		{"POST", "/api/v1/plan", read, "plan SERVICE[@VERSION] [--to STAGE]", s.plan},
		{"POST", "/api/v1/promotions/{id}/approve", approve, "approve ID", s.approve},
		{"POST", "/api/v1/promotions/{id}/reject", approve, "reject ID --reason R", s.reject},
		{"POST", "/api/v1/freezes", admin, "freeze ENV --reason R", s.freeze},
		{"DELETE", "/api/v1/freezes/{env}", admin, "unfreeze ENV", s.unfreeze},
		{"GET", "/api/v1/audit", read, "audit [--verify]", s.audit},
		{"POST", "/api/v1/resume", admin, "resume", s.resume},
		{"GET", "/api/v1/drift", read, "drift [--env ENV]", s.drift},
	}
}
