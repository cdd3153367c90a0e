package http

import (
	"reflect"
	"regexp"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// queryParams lists each route's query parameters and what they mean.
var queryParams = map[string][][2]string{
	"/api/v1/config/{service}":      {{"env", "the environment (required)"}, {"explain", "1 adds each value's trail of layers"}},
	"/api/v1/diff":                  {{"a", "the first environment"}, {"b", "the second environment"}},
	"/api/v1/deployments":           {{"service", "only this service"}, {"env", "only this environment"}, {"limit", "at most this many"}},
	"/api/v1/deployments/{id}/logs": {{"after", "only chunks after this sequence number"}, {"follow", "1 streams server-sent events until the deployment ends"}},
	"/api/v1/promotions":            {{"state", "only these states, comma-separated"}, {"service", "only this service"}},
	"/api/v1/audit":                 {{"service", "only events about this service"}, {"env", "only events about this environment"}, {"actor", "only events by this principal"}, {"action", "only this action"}, {"limit", "only the newest N"}, {"verify", "1 recomputes the hash chain (admin)"}},
	"/api/v1/drift":                 {{"env", "only this environment"}},
}

// requestBodies gives the body type of each route that takes one.
var requestBodies = map[string]any{
	"POST /api/v1/releases":                report.ReleaseRequest{},
	"POST /api/v1/deployments":             report.DeployRequest{},
	"POST /api/v1/rollbacks":               report.RollbackRequest{},
	"POST /api/v1/promotions":              report.PromoteRequest{},
	"POST /api/v1/plan":                    report.PromoteRequest{},
	"POST /api/v1/promotions/{id}/approve": report.ApproveRequest{},
	"POST /api/v1/promotions/{id}/reject":  report.RejectRequest{},
	"POST /api/v1/freezes":                 report.FreezeRequest{},
	"POST /api/v1/environments":            report.EnvCreateRequest{},
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// openapi returns the API as an OpenAPI 3.1 document, built from the route table so that it
// cannot drift from what the server serves.
func (s *Server) openapi(c *call) (any, error) {
	return openAPIDoc(s.apiRoutes()), nil
}

// openAPIDoc returns the OpenAPI 3.1 document of routes.
func openAPIDoc(routes []route) map[string]any {
	errorRef := map[string]any{"$ref": "#/components/schemas/Error"}
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"responses": map[string]any{
				"200":     map[string]any{"description": "the command's JSON document (as `strata -o json` prints it); header Strata-Exit: 0"},
				"default": map[string]any{"description": "an error; header Strata-Exit is the CLI's exit status. A blocked promotion or failed deployment returns its document, with the message in Strata-Error", "content": map[string]any{"application/json": map[string]any{"schema": errorRef}}},
			},
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
		for _, q := range queryParams[rt.Path] {
			params = append(params, map[string]any{"name": q[0], "in": "query", "description": q[1], "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if body, ok := requestBodies[rt.Method+" "+rt.Path]; ok {
			op["requestBody"] = map[string]any{"required": rt.Path != "/api/v1/promotions/{id}/approve",
				"content": map[string]any{"application/json": map[string]any{"schema": schemaOf(body)}}}
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Strata API", "version": "v1",
			"description": "Every CLI command as a JSON route. Bodies are JSON objects of at most 1 MiB; unknown fields are rejected. See docs/api.md."},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "a token from `strata token create`"}},
			"schemas": map[string]any{"Error": map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
				"error": map[string]any{"type": "object", "properties": map[string]any{
					"code":    map[string]any{"type": "string", "enum": []string{strata.EINVALID, strata.ENOTFOUND, strata.ECONFLICT, strata.EBLOCKED, strata.EUNAUTHORIZED, strata.EFAILED, strata.EINTERNAL}},
					"message": map[string]any{"type": "string"}}}}}},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
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

// schemaOf describes a request struct's JSON fields.
func schemaOf(v any) map[string]any {
	t := reflect.TypeOf(v)
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		typ := "string"
		switch f.Type.Kind() {
		case reflect.Bool:
			typ = "boolean"
		case reflect.Int:
			typ = "integer"
		}
		props[name] = map[string]any{"type": typ}
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	out := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if required != nil {
		out["required"] = required
	}
	return out
}
