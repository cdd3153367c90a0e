package report_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// graphProject: prod-eu extends prod-us; api depends on db; a hostile label value.
func graphProject() *strata.Project {
	envs := []*strata.Environment{
		{Name: "dev", Labels: map[string]string{"tier": "dev"}},
		{Name: "prod-us", Labels: map[string]string{"tier": "prod", "note": `"];evil -> x [label="`}},
		{Name: "prod-eu", Extends: "prod-us", Labels: map[string]string{"tier": "prod"}},
	}
	return &strata.Project{
		Environments: envs,
		Services:     []*strata.Service{{Name: "db"}, {Name: "api", DependsOn: []string{"db"}}, {Name: "web"}},
		Pipeline:     []*strata.Stage{{Name: "dev", Environments: []string{"dev"}}, {Name: "prod", Environments: []string{"prod-us", "prod-eu"}}},
	}
}

func TestGraphDrawsTheEstateInEachFormat(t *testing.T) {
	cases := []struct {
		name  string
		req   report.GraphRequest
		want  []string
		avoid []string
	}{
		{"dot has extends, stages in order and dependencies", report.GraphRequest{},
			[]string{`"env:prod-eu" -> "env:prod-us" [style=dashed label=extends]`, `"stage:dev" -> "stage:prod"`, `"service:api" -> "service:db"`, `\"];evil -> x [label=\"`},
			[]string{"\n  evil"}},
		{"mermaid quotes labels", report.GraphRequest{Format: "mermaid"},
			[]string{"flowchart LR", "-. extends .->", "-- depends on -->", "#quot;"}, nil},
		{"svg escapes names and labels", report.GraphRequest{Format: "svg"},
			[]string{`<svg xmlns="http://www.w3.org/2000/svg"`, `class="edge extends"`, `data-id="service:api"`, "&#34;];evil"}, []string{`"];evil`}},
		{"--env keeps an environment's ancestors and descendants", report.GraphRequest{Env: "prod-us"},
			[]string{`"env:prod-us"`, `"env:prod-eu"`}, []string{`"env:dev"`}},
		{"--service keeps what it depends on", report.GraphRequest{Service: "api"},
			[]string{`"service:api"`, `"service:db"`}, []string{`"service:web"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := report.NewGraph(graphProject(), c.req, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(g.Text, w) {
					t.Errorf("lacks %q:\n%s", w, g.Text)
				}
			}
			for _, a := range c.avoid {
				if strings.Contains(g.Text, a) {
					t.Errorf("holds %q:\n%s", a, g.Text)
				}
			}
		})
	}
	if _, err := report.NewGraph(graphProject(), report.GraphRequest{Format: "png"}, nil); strata.ErrorCode(err) != strata.EINVALID {
		t.Errorf("--format png: %v, want invalid", err)
	}
}
