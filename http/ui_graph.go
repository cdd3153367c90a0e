package http

import (
	"html/template"
	"net/http"

	"github.com/strata-dev/strata/report"
)

// graphView is /graph: the estate drawn as SVG by the server (report.NewGraph).
type graphView struct {
	Env, Service string
	SVG          template.HTML
	Nodes, Edges int
}

// graph draws the environments the visitor covers, the stages and the services
// (?env=, ?service= focus as `strata graph` does).
func (u *ui) graph(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	req := report.GraphRequest{Format: "svg", Env: q.Get("env"), Service: q.Get("service")}
	var covers func(string) bool
	if len(v.token.Envs) > 0 {
		covers = v.covers
	}
	g, err := report.NewGraph(v.engine.Project, req, covers)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	// The SVG is written by report.NewGraph, which escapes every name and label in it.
	u.render(w, r, v, http.StatusOK, "graph", "Graph", graphView{Env: req.Env, Service: req.Service, SVG: template.HTML(g.Text), Nodes: len(g.Nodes), Edges: len(g.Edges)})
}
