package report

import (
	"fmt"
	"html"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
)

// The estate drawn (issue 14, point 5): `strata graph [--format dot|mermaid|svg]` and the
// dashboard's /graph. Nodes are the environments (with their labels), the pipeline's stages
// and the services; edges are extends (child to parent), a stage's next stage, the
// environments a stage selects, and depends_on. --env keeps one environment with its
// ancestors and descendants; --service one service with what it depends on and what
// depends on it. The SVG is laid out here: a column per stage holding the environments it
// selects, a column for the environments of no stage, services along the bottom; no
// layout library and nothing fetched.

// GraphRequest is GET /api/v1/graph.
type GraphRequest struct {
	Format  string `query:"format" doc:"dot (the default), mermaid or svg"`
	Env     string `query:"env" doc:"only this environment, its ancestors and its descendants"`
	Service string `query:"service" doc:"only this service, what it depends on and what depends on it"`
}

// Graph is the document of `graph`: the nodes and edges, and the drawing in Format.
type Graph struct {
	Format string      `json:"format"`
	Nodes  []GraphNode `json:"nodes"`
	Edges  []GraphEdge `json:"edges"`
	Text   string      `json:"text"`
}

// GraphNode is an environment, a stage or a service; its ID is KIND:NAME.
type GraphNode struct {
	ID     string            `json:"id"`
	Kind   string            `json:"kind"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

// GraphEdge is one relation: extends, next (stage to stage), selects (stage to
// environment), depends_on (service to service).
type GraphEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Kind string `json:"kind"`
}

// NewGraph draws p as req asks, keeping the environments covers accepts (nil: all).
func NewGraph(p *strata.Project, req GraphRequest, covers func(string) bool) (*Graph, error) {
	format := req.Format
	if format == "" {
		format = "dot"
	}
	if format != "dot" && format != "mermaid" && format != "svg" {
		return nil, strata.Errorf(strata.EINVALID, "--format %q: want dot, mermaid or svg", req.Format)
	}
	keepEnv := func(string) bool { return true }
	if req.Env != "" {
		if err := NeedEnv(p, req.Env); err != nil {
			return nil, err
		}
		keep := map[string]bool{}
		for e := p.Environment(req.Env); e != nil && !keep[e.Name]; e = p.Environment(e.Extends) {
			keep[e.Name] = true
		}
		for changed := true; changed; { // descendants, however deep
			changed = false
			for _, e := range p.Environments {
				if !keep[e.Name] && keep[e.Extends] && e.Extends != "" {
					keep[e.Name], changed = true, true
				}
			}
		}
		keepEnv = func(n string) bool { return keep[n] }
	}
	keepSvc := func(string) bool { return true }
	if req.Service != "" {
		if err := NeedService(p, req.Service); err != nil {
			return nil, err
		}
		keep := map[string]bool{req.Service: true}
		for _, s := range p.Services {
			if slices.Contains(s.DependsOn, req.Service) {
				keep[s.Name] = true
			}
		}
		for todo := []string{req.Service}; len(todo) > 0; todo = todo[1:] {
			if s := p.Service(todo[0]); s != nil {
				for _, d := range s.DependsOn {
					if !keep[d] {
						keep[d] = true
						todo = append(todo, d)
					}
				}
			}
		}
		keepSvc = func(n string) bool { return keep[n] }
	}
	g := &Graph{Format: format, Nodes: []GraphNode{}, Edges: []GraphEdge{}}
	envs := map[string]bool{}
	for _, e := range p.Environments {
		if keepEnv(e.Name) && (covers == nil || covers(e.Name)) {
			envs[e.Name] = true
			g.Nodes = append(g.Nodes, GraphNode{ID: "env:" + e.Name, Kind: "environment", Name: e.Name, Labels: e.Labels})
		}
	}
	for _, e := range p.Environments {
		if envs[e.Name] && envs[e.Extends] {
			g.Edges = append(g.Edges, GraphEdge{From: "env:" + e.Name, To: "env:" + e.Extends, Kind: "extends"})
		}
	}
	for i, st := range p.Pipeline {
		g.Nodes = append(g.Nodes, GraphNode{ID: "stage:" + st.Name, Kind: "stage", Name: st.Name})
		if i > 0 {
			g.Edges = append(g.Edges, GraphEdge{From: "stage:" + p.Pipeline[i-1].Name, To: "stage:" + st.Name, Kind: "next"})
		}
		for _, e := range st.Environments {
			if envs[e] {
				g.Edges = append(g.Edges, GraphEdge{From: "stage:" + st.Name, To: "env:" + e, Kind: "selects"})
			}
		}
	}
	for _, s := range p.Services {
		if !keepSvc(s.Name) {
			continue
		}
		g.Nodes = append(g.Nodes, GraphNode{ID: "service:" + s.Name, Kind: "service", Name: s.Name})
		for _, d := range s.DependsOn {
			if keepSvc(d) {
				g.Edges = append(g.Edges, GraphEdge{From: "service:" + s.Name, To: "service:" + d, Kind: "depends_on"})
			}
		}
	}
	var b strings.Builder
	switch format {
	case "dot":
		g.writeDOT(&b)
	case "mermaid":
		g.writeMermaid(&b)
	case "svg":
		g.writeSVG(&b, p)
	}
	g.Text = b.String()
	return g, nil
}

// WriteText prints the drawing.
func (g *Graph) WriteText(w io.Writer) { io.WriteString(w, g.Text) }

// labelLine writes labels as "k=v, k=v", sorted.
func labelLine(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ", ")
}

// dotQuote quotes s as a DOT string: names and labels are data, never DOT.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}

var dotStyle = map[string]string{
	"environment": "shape=box",
	"stage":       "shape=cds style=filled fillcolor=\"#dce7fb\"",
	"service":     "shape=ellipse style=filled fillcolor=\"#d7f3df\"",
}

var edgeStyle = map[string]string{"extends": "style=dashed label=extends", "next": "penwidth=2", "selects": "arrowhead=none color=gray", "depends_on": "label=\"depends on\""}

func (g *Graph) writeDOT(w *strings.Builder) {
	w.WriteString("digraph strata {\n  rankdir=LR;\n")
	for _, n := range g.Nodes {
		label := n.Name
		if l := labelLine(n.Labels); l != "" {
			label += "\n" + l
		}
		fmt.Fprintf(w, "  %s [label=%s %s];\n", dotQuote(n.ID), dotQuote(label), dotStyle[n.Kind])
	}
	for _, e := range g.Edges {
		fmt.Fprintf(w, "  %s -> %s [%s];\n", dotQuote(e.From), dotQuote(e.To), edgeStyle[e.Kind])
	}
	w.WriteString("}\n")
}

// mermaidID makes a node id Mermaid reads: letters, digits and underscores (a hash keeps
// two names that differ only in other characters apart).
func mermaidID(id string) string {
	var b strings.Builder
	var h uint32 = 2166136261
	for _, r := range id {
		h = (h ^ uint32(r)) * 16777619
		if r < 128 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("%s_%x", b.String(), h&0xffff)
}

// mermaidText escapes s for a quoted Mermaid label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", " ", "<", "#lt;", ">", "#gt;").Replace(s)
}

func (g *Graph) writeMermaid(w *strings.Builder) {
	w.WriteString("flowchart LR\n")
	shape := map[string][2]string{"environment": {"[", "]"}, "stage": {"[[", "]]"}, "service": {"([", "])"}}
	for _, n := range g.Nodes {
		label := n.Name
		if l := labelLine(n.Labels); l != "" {
			label += " (" + l + ")"
		}
		fmt.Fprintf(w, "  %s%s\"%s\"%s\n", mermaidID(n.ID), shape[n.Kind][0], mermaidText(label), shape[n.Kind][1])
	}
	arrow := map[string]string{"extends": " -. extends .-> ", "next": " ==> ", "selects": " --- ", "depends_on": " -- depends on --> "}
	for _, e := range g.Edges {
		fmt.Fprintf(w, "  %s%s%s\n", mermaidID(e.From), arrow[e.Kind], mermaidID(e.To))
	}
}

// writeSVG lays the graph out: a column per stage (its environments beneath it), a column
// for the environments no stage selects, the services in a row below; extends as dashed
// lines between environment boxes, depends_on as arrows between services.
func (g *Graph) writeSVG(w *strings.Builder, p *strata.Project) {
	const colW, boxW, boxH, rowH, top = 190, 170, 30, 40, 20
	type pos struct{ x, y int }
	at := map[string]pos{}
	var cols [][]GraphNode
	placed := map[string]bool{}
	byID := map[string]GraphNode{}
	for _, n := range g.Nodes {
		byID[n.ID] = n
	}
	for _, st := range p.Pipeline {
		col := []GraphNode{byID["stage:"+st.Name]}
		for _, e := range st.Environments {
			if n, ok := byID["env:"+e]; ok && !placed[n.ID] {
				col, placed[n.ID] = append(col, n), true
			}
		}
		cols = append(cols, col)
	}
	var rest []GraphNode
	for _, n := range g.Nodes {
		if n.Kind == "environment" && !placed[n.ID] {
			rest = append(rest, n)
		}
	}
	if len(rest) > 0 {
		cols = append(cols, append([]GraphNode{{ID: "none", Kind: "stage", Name: "(no stage)"}}, rest...))
	}
	tallest := 0
	var order []GraphNode // the boxes, in the order they are drawn
	for i, col := range cols {
		for j, n := range col {
			at[n.ID] = pos{10 + i*colW, top + j*rowH}
			order = append(order, n)
		}
		tallest = max(tallest, len(col))
	}
	svcY := top + tallest*rowH + rowH
	i := 0
	for _, n := range g.Nodes {
		if n.Kind == "service" {
			at[n.ID] = pos{10 + i*colW, svcY}
			order = append(order, n)
			i++
		}
	}
	width := 20 + max(len(cols), i)*colW
	height := svcY + rowH + top
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" class="graph" id="estate-graph" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="12">`, width, height, width, height)
	w.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6b7383"/></marker></defs>`)
	for _, e := range g.Edges {
		a, okA := at[e.From]
		b, okB := at[e.To]
		if !okA || !okB || e.Kind == "selects" {
			continue
		}
		switch e.Kind {
		case "extends":
			fmt.Fprintf(w, `<path class="edge extends" d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="#6b7383" stroke-dasharray="4 3" marker-end="url(#arrow)"/>`,
				a.x, a.y+boxH/2, a.x-30, a.y+boxH/2, b.x-30, b.y+boxH/2, b.x, b.y+boxH/2)
		default:
			fmt.Fprintf(w, `<line class="edge %s" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#6b7383" marker-end="url(#arrow)"/>`, e.Kind, a.x+boxW, a.y+boxH/2, b.x, b.y+boxH/2)
		}
	}
	fill := map[string]string{"environment": "#ffffff", "stage": "#dce7fb", "service": "#d7f3df"}
	for _, n := range order {
		p := at[n.ID]
		title := n.Name
		if l := labelLine(n.Labels); l != "" {
			title += ": " + l
		}
		name := n.Name
		if len([]rune(name)) > 24 {
			name = string([]rune(name)[:23]) + "…"
		}
		fmt.Fprintf(w, `<g class="node %s" data-id="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="%s" stroke="#9aa3b5"/><text x="%d" y="%d">%s</text></g>`,
			n.Kind, html.EscapeString(n.ID), html.EscapeString(title), p.x, p.y, boxW, boxH, fill[n.Kind], p.x+8, p.y+19, html.EscapeString(name))
	}
	w.WriteString("</svg>\n")
}
