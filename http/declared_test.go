package http_test

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	strhttp "github.com/strata-dev/strata/http"
)

// queryTags returns the query parameters a request type declares, in field order.
func queryTags(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if q := t.Field(i).Tag.Get("query"); q != "" {
			out = append(out, q)
		}
	}
	return out
}

// bodyFields returns the JSON names of the fields a request type sends in its body.
func bodyFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Tag.Get("path") == "" && f.Tag.Get("query") == "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// openAPIOp returns the OpenAPI operation of a route, nil when the document has none.
func openAPIOp(doc map[string]any, route string) map[string]any {
	method, path, _ := strings.Cut(route, " ")
	ops, _ := doc["paths"].(map[string]any)[path].(map[string]any)
	op, _ := ops[strings.ToLower(method)].(map[string]any)
	return op
}

// queryParamsOf returns the names of an OpenAPI operation's query parameters.
func queryParamsOf(op map[string]any) []string {
	var out []string
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		if p := p.(map[string]any); p["in"] == "query" {
			out = append(out, p["name"].(string))
		}
	}
	return out
}

// TestEveryDeclaredCommandIsServedAndDescribed checks each declared command has a route
// the server answers (not "no API route") and an OpenAPI entry with its summary and the
// query parameters its request type declares.
func TestEveryDeclaredCommandIsServedAndDescribed(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	doc := x.do("carol", "GET", "/api/v1/openapi.json", nil).json(t)
	for _, d := range command.All() {
		info := d.Declared()
		t.Run(info.Name+" is served and described", func(t *testing.T) {
			op := openAPIOp(doc, info.Route)
			if op == nil {
				t.Fatalf("the OpenAPI document has no %s", info.Route)
			}
			if got, want := op["summary"], info.Summary; got != want {
				t.Errorf("summary %q, want %q", got, want)
			}
			if got, want := queryParamsOf(op), queryTags(d.Request()); !slices.Equal(got, want) {
				t.Errorf("query parameters %q, want %q", got, want)
			}
			var body []string
			if rb, ok := op["requestBody"].(map[string]any); ok {
				schema := rb["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
				for name := range schema["properties"].(map[string]any) {
					body = append(body, name)
				}
			}
			if got, want := body, bodyFields(d.Request()); !sameSet(got, want) {
				t.Errorf("body fields %q, want %q", got, want)
			}
			path := info.Path()
			for _, name := range []string{"{id}", "{env}", "{name}", "{service}"} {
				path = strings.ReplaceAll(path, name, "nothing-here")
			}
			r := x.do("victor", info.Method(), path, nil)
			if strings.Contains(r.body, "no API route") || r.status == http.StatusMethodNotAllowed {
				t.Fatalf("%s %s: %d %s", info.Method(), path, r.status, r.body)
			}
			if r.header.Get("Strata-Exit") == "" {
				t.Errorf("no Strata-Exit header (status %d)", r.status)
			}
		})
	}
}

// sameSet reports whether a and b hold the same names, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// echoRequest is the request of a command the tests declare: a value of each kind, in the
// path, the query and the body.
type echoRequest struct {
	Env   string `json:"-" path:"env"`
	Note  string `json:"-" query:"note" doc:"a note to echo"`
	Loud  bool   `json:"-" query:"loud" doc:"1 shouts"`
	Words string `json:"words"`
	Times int    `json:"times,omitempty"`
}

// echoDoc is its document: the request as the command received it, who asked, and the
// environments the asker may see.
type echoDoc struct {
	Env     string   `json:"env"`
	Note    string   `json:"note"`
	Loud    bool     `json:"loud"`
	Words   string   `json:"words"`
	Times   int      `json:"times"`
	Actor   string   `json:"actor"`
	Visible []string `json:"visible"`
}

// echo is a command declared by the tests alone: nothing else in the server or the client
// names it.
var echo = &command.Command[echoRequest, *echoDoc]{
	Info: command.Info{Name: "echo", Route: "POST /api/v1/echo/{env}", Action: strata.ActRead, Summary: "echo ENV --note N"},
	Authorize: func(ctx context.Context, x command.Site, req echoRequest) error {
		return x.Allow(ctx, strata.ActDeploy, req.Env)
	},
	Run: func(ctx context.Context, x command.Site, req echoRequest) (*echoDoc, error) {
		e, err := x.Engine(ctx)
		if err != nil {
			return nil, err
		}
		doc := &echoDoc{Env: req.Env, Note: req.Note, Loud: req.Loud, Words: req.Words, Times: req.Times, Actor: e.Actor, Visible: []string{}}
		for _, name := range e.Project.EnvironmentNames() {
			if x.Covers(name) {
				doc.Visible = append(doc.Visible, name)
			}
		}
		return doc, nil
	},
}

// TestADeclarationIsAllACommandNeeds serves a command declared only in this test: the
// client runs it, the server authorizes it by the token's role and scope, and the OpenAPI
// document describes it.
func TestADeclarationIsAllACommandNeeds(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	_, url := x.serveWith(x.engine, 0, func(c *strhttp.Config) { c.Commands = append(command.All(), echo) })
	note := `a&b=c d/../%2F<script>"` + "\n$(id)"
	for _, tc := range []struct {
		name     string
		who      string
		env      string
		wantCode string
		want     *echoDoc
	}{
		{"a deployer gets back what it sent and sees every environment", "alice", "staging", "",
			&echoDoc{Env: "staging", Note: note, Loud: true, Words: `say "hi"`, Times: 3, Actor: "alice", Visible: []string{"dev", "staging", "prod-us", "prod-eu", "edge"}}},
		{"a token scoped to dev sees only dev", "dave", "dev", "",
			&echoDoc{Env: "dev", Note: note, Loud: true, Words: `say "hi"`, Times: 3, Actor: "dave", Visible: []string{"dev"}}},
		{"a token scoped to dev is refused another environment", "dave", "staging", strata.EUNAUTHORIZED, nil},
		{"a viewer is refused what Authorize asks for", "victor", "dev", strata.EUNAUTHORIZED, nil},
		{"an unknown environment is not found", "alice", "nowhere", strata.ENOTFOUND, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := strhttp.NewClient(url, x.tokens[tc.who])
			if err != nil {
				t.Fatal(err)
			}
			got, err := strhttp.Run(context.Background(), c, echo, echoRequest{Env: tc.env, Note: note, Loud: true, Words: `say "hi"`, Times: 3})
			if code := strata.ErrorCode(err); code != tc.wantCode {
				t.Fatalf("error %v, want code %q", err, tc.wantCode)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("the OpenAPI document describes it", func(t *testing.T) {
		r := x.doAt(url, "victor", "GET", "/api/v1/openapi.json", nil)
		op := openAPIOp(r.json(t), echo.Route)
		if op == nil {
			t.Fatalf("no entry for %s", echo.Route)
		}
		if got, want := queryParamsOf(op), []string{"note", "loud"}; !slices.Equal(got, want) {
			t.Errorf("query parameters %q, want %q", got, want)
		}
		schema := op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		props := schema["properties"].(map[string]any)
		if len(props) != 2 || props["words"] == nil || props["times"] == nil {
			t.Errorf("body properties %v, want words and times", props)
		}
		if got := schema["required"]; !reflect.DeepEqual(got, []any{"words"}) {
			t.Errorf("required %v, want [words]", got)
		}
	})
}

// TestABadDeclarationStopsTheServer checks that a declaration the server could not serve
// is an error from New that names it, not a panic or a route that never answers.
func TestABadDeclarationStopsTheServer(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	type idOnly struct {
		ID string `path:"id"`
	}
	type bodyOnly struct {
		Words string `json:"words"`
	}
	type pathInBody struct {
		ID string `path:"id"`
	}
	noop := func(context.Context, command.Site, idOnly) (*echoDoc, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		decl command.Decl
		want string
	}{
		{"a path parameter without a field",
			&command.Command[command.None, *echoDoc]{Info: command.Info{Name: "x", Route: "GET /api/v1/x/{id}", Action: strata.ActRead, Summary: "x"}},
			`the route's {id} has no field tagged path:"id"`},
		{"a field for a path parameter the route lacks",
			&command.Command[idOnly, *echoDoc]{Info: command.Info{Name: "x", Route: "GET /api/v1/x", Action: strata.ActRead, Summary: "x"}, Run: noop},
			"field ID is path parameter {id}, which the route lacks"},
		{"a body on a GET",
			&command.Command[bodyOnly, *echoDoc]{Info: command.Info{Name: "x", Route: "GET /api/v1/x", Action: strata.ActRead, Summary: "x"}},
			"field Words would be a body, which a GET has none of"},
		{"a path field the body would carry too",
			&command.Command[pathInBody, *echoDoc]{Info: command.Info{Name: "x", Route: "POST /api/v1/x/{id}", Action: strata.ActRead, Summary: "x"}},
			`field ID travels in the path; tag it json:"-"`},
		{"no action",
			&command.Command[command.None, *echoDoc]{Info: command.Info{Name: "x", Route: "GET /api/v1/x", Summary: "x"}},
			"want a name, an action and a route"},
		{"a route another command has",
			&command.Command[command.None, *echoDoc]{Info: command.Info{Name: "x", Route: command.Status.Route, Action: strata.ActRead, Summary: "x"}},
			"route GET /api/v1/status"},
		{"a route the server has itself",
			&command.Command[command.None, *echoDoc]{Info: command.Info{Name: "x", Route: "GET /healthz", Action: strata.ActRead, Summary: "x"}},
			"route GET /healthz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := strhttp.New(strhttp.Config{Engine: x.engine, Commands: append(command.All(), tc.decl)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error holding %q", err, tc.want)
			}
		})
	}
}
