package http

import (
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
)

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// openapi returns the API as an OpenAPI 3.1 document, built from the route table (the
// declared commands, their parameters and bodies read from their request types) so that it
// cannot drift from what the server serves.
func (s *Server) openapi(c *call) (any, error) {
	doc := openAPIDoc(s.apiRoutes())
	// The server as the client reached it, so that a generated client has a base URL.
	scheme := "http"
	if isHTTPS(c.r) {
		scheme = "https"
	}
	doc["servers"] = []any{map[string]any{"url": scheme + "://" + c.r.Host, "description": "this server"}}
	return doc, nil
}

// errorStatuses are the statuses an API error is answered with (errors.go), each with the
// Error document.
var errorStatuses = map[string]string{
	"400": "bad input (code invalid): the message names the parameter or field and what would be right",
	"401": "no token, or one that is unknown or revoked (code unauthorized)",
	"403": "the token's role or environments do not cover the request (code unauthorized)",
	"404": "an unknown name or id (code not_found)",
	"409": "a conflict with the current state (code conflict), or blocked by a gate (code blocked, with the document)",
	"500": "an internal error; the reason is in the server's log",
}

// nextHeaders are the response headers of a list whose document is a JSON array, when a
// limit cut it short (SetNext; docs/api.md, "Paging").
var nextHeaders = map[string]any{
	"X-Next-Cursor": map[string]any{"description": "where the next page begins, for the cursor parameter; absent when this page ends the list", "schema": map[string]any{"type": "string"}},
	"Link":          map[string]any{"description": `the next page's URL (RFC 8288, rel="next"): this request with cursor set; absent when this page ends the list`, "schema": map[string]any{"type": "string"}},
}

// pagedByHeaders reports whether a route of request type req and document type doc pages
// by headers: it takes a cursor, and its document has no "next" of its own (status has).
func pagedByHeaders(req, doc reflect.Type) bool {
	if req.Kind() != reflect.Struct || !slices.ContainsFunc(fieldsOf(req), func(f field) bool { return f.in == "query" && f.name == "cursor" }) {
		return false
	}
	for doc.Kind() == reflect.Pointer {
		doc = doc.Elem()
	}
	if doc.Kind() != reflect.Struct {
		return true
	}
	for i := range doc.NumField() {
		if name, _, _ := strings.Cut(doc.Field(i).Tag.Get("json"), ","); name == "next" {
			return false
		}
	}
	return true
}

// openAPIDoc returns the OpenAPI 3.1 document of routes.
func openAPIDoc(routes []route) map[string]any {
	errorRef := map[string]any{"$ref": "#/components/schemas/Error"}
	schemas := &schemaSet{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		ok := map[string]any{"description": "the command's JSON document (as `strata -o json` prints it); header Strata-Exit: 0"}
		if rt.decl != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemas.of(rt.decl.Document())}}
			if pagedByHeaders(rt.decl.Request(), rt.decl.Document()) {
				ok["headers"] = nextHeaders
			}
		} else {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{}}}
		}
		responses := map[string]any{
			"200":     ok,
			"default": map[string]any{"description": "an error; header Strata-Exit is the CLI's exit status. A blocked promotion or failed deployment returns its document, with the message in Strata-Error", "content": map[string]any{"application/json": map[string]any{"schema": errorRef}}},
		}
		for status, what := range errorStatuses {
			if rt.Action == "" && (status == "401" || status == "403") {
				continue
			}
			responses[status] = map[string]any{"description": what, "content": map[string]any{"application/json": map[string]any{"schema": errorRef}}}
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"responses":   responses,
		}
		if rt.Action != "" {
			op["description"] = "Needs a token whose role permits " + rt.Action + " (" + rolesFor(rt.Action) + ") and covers the environments named."
		} else {
			op["security"] = []any{}
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if rt.decl != nil {
			t := rt.decl.Request()
			for _, f := range fieldsOf(t) {
				if f.in == "query" {
					params = append(params, map[string]any{"name": f.name, "in": "query", "description": f.doc, "schema": querySchema(f.kind)})
				}
			}
			if has, optional := bodyOf(t); has {
				op["requestBody"] = map[string]any{"required": !optional,
					"content": map[string]any{"application/json": map[string]any{"schema": schemaOf(t)}}}
			}
		}
		if rt.body != nil {
			op["requestBody"] = map[string]any{"required": true,
				"content": map[string]any{"application/json": map[string]any{"schema": schemaOf(rt.body)}}}
		}
		if params != nil {
			op["parameters"] = params
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Strata API", "version": "v1",
			"description": "Every CLI command as a JSON route. Bodies are JSON objects of at most 1 MiB; unknown fields are rejected. See docs/api.md."},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "a token from `strata token create`"}},
			"schemas": map[string]any{"Error": map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
				"error": map[string]any{"type": "object", "properties": map[string]any{
					"code":    map[string]any{"type": "string", "enum": []string{strata.EINVALID, strata.ENOTFOUND, strata.ECONFLICT, strata.EBLOCKED, strata.EUNAUTHORIZED, strata.EFAILED, strata.EINTERNAL}},
					"message": map[string]any{"type": "string"},
					"final":   map[string]any{"type": "boolean", "description": "true when asking again will not mend it (also the header Strata-Error-Final)"}}}}}},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
	defs := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name, schema := range schemas.defs {
		defs[name] = schema
	}
	return doc
}

// querySchema is the schema of a query parameter of kind k: booleans as the server reads
// them ("1", "true"), whole numbers from 0.
func querySchema(k reflect.Kind) map[string]any {
	switch k {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "minimum": 0}
	}
	return map[string]any{"type": "string"}
}

func operationID(rt route) string {
	id := strings.ToLower(rt.Method)
	for _, part := range strings.Split(strings.TrimPrefix(rt.Path, "/api/v1"), "/") {
		part = strings.Trim(part, "{}")
		if part == "" {
			continue
		}
		part = strings.ReplaceAll(part, ".", "_")
		id += strings.ToUpper(part[:1]) + part[1:]
	}
	return id
}

// schemaOf describes the JSON body of request type t.
func schemaOf(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range fieldsOf(t) {
		if f.in != "body" {
			continue
		}
		typ := "string"
		switch f.kind {
		case reflect.Bool:
			typ = "boolean"
		case reflect.Int, reflect.Int64:
			typ = "integer"
		}
		prop := map[string]any{"type": typ}
		if f.kind == reflect.Map { // labels: string to string
			prop = map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}
		}
		if f.doc != "" {
			prop["description"] = f.doc
		}
		props[f.name] = prop
		if f.required {
			required = append(required, f.name)
		}
	}
	out := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if required != nil {
		out["required"] = required
	}
	return out
}
