package http

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
)

// matrixView is the environment x service matrix as the page shows it.
type matrixView struct {
	Services []string
	Groups   []matrixGroup
	// LabelKeys lists every label key of the environments, for the group-by choice.
	LabelKeys []string
	Labels    []string // the label filters as given ("tier=prod")
	Group     string
	Query     string
	Problem   string // a filter that could not be read
	Shown     int
	Total     int
	Waiting   []waitingRow
}

// matrixGroup is the rows that share one value of the group-by label ("" when not grouping).
type matrixGroup struct {
	Label string
	Rows  []matrixRow
}

// matrixRow is one environment.
type matrixRow struct {
	Env       string
	Labels    string
	Ephemeral bool
	Cells     []matrixCell
}

// matrixCell is one service in one environment: what runs, the state of the newest
// deployment (which colours it), and how long ago the running version was deployed.
type matrixCell struct {
	Version string
	Age     string
	State   string
	Href    string
	Title   string
}

// waitingRow is a promotion waiting on a gate, listed above the matrix.
type waitingRow struct {
	ID, Service, Version, Stage, Requester, Age string
}

// matrix shows the environment x service matrix, filtered by labels (?label=tier=prod,
// repeatable, all must match), by a piece of the name (?q=) and grouped by a label
// (?group=region). Environments the visitor's token does not reach are left out.
func (u *ui) matrix(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	m, err := u.buildMatrix(r.Context(), v, q["label"], q.Get("group"), strings.TrimSpace(q.Get("q")))
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Target") == "matrix" {
		u.renderFragment(w, r, "matrix", "table", m)
		return
	}
	u.render(w, r, v, http.StatusOK, "matrix", "Environments", m)
}

// buildMatrix gathers the matrix from one read of the deployments, newest first: the
// first succeeded deployment of a pair is what runs there, the first of any state is its
// newest.
func (u *ui) buildMatrix(ctx context.Context, v *visit, labels []string, group, query string) (*matrixView, error) {
	p := v.engine.Project
	m := &matrixView{Services: p.ServiceNames(), Group: group, Query: query, Total: len(p.Environments)}
	sel := map[string]string{}
	for _, l := range labels {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		m.Labels = append(m.Labels, l)
		for part := range strings.SplitSeq(l, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || k == "" {
				m.Problem = fmt.Sprintf("label filter %q: want key=value, e.g. tier=prod", part)
				continue
			}
			sel[k] = val
		}
	}
	ds, err := v.engine.Store.Deployments(ctx, strata.DeploymentFilter{})
	if err != nil {
		return nil, fmt.Errorf("read deployments: %w", err)
	}
	type pair struct{ s, e string }
	current := make(map[pair]*strata.Deployment, len(ds))
	latest := make(map[pair]*strata.Deployment, len(ds))
	for _, d := range ds {
		k := pair{d.Service, d.Environment}
		if latest[k] == nil {
			latest[k] = d
		}
		if d.State == strata.Succeeded && current[k] == nil {
			current[k] = d
		}
	}
	keys := map[string]bool{}
	groups := map[string]*matrixGroup{}
	var order []string
	now := u.now()
	for _, env := range p.Environments {
		for k := range env.Labels {
			keys[k] = true
		}
		if !v.covers(env.Name) || !strata.Matches(sel, env.Name, env.Labels) {
			continue
		}
		if query != "" && !strings.Contains(env.Name, query) {
			continue
		}
		gv := ""
		if group != "" {
			gv = group + "=" + env.Labels[group]
			if _, ok := env.Labels[group]; !ok {
				gv = "no " + group
			}
		}
		g := groups[gv]
		if g == nil {
			g = &matrixGroup{Label: gv}
			groups[gv] = g
			order = append(order, gv)
		}
		row := matrixRow{Env: env.Name, Labels: labelText(env.Labels), Ephemeral: env.Ephemeral, Cells: make([]matrixCell, len(p.Services))}
		for i, s := range p.Services {
			k := pair{s.Name, env.Name}
			c := &row.Cells[i]
			if d := current[k]; d != nil {
				c.Version, c.Age = d.Version, age(now, d.FinishedAt)
				if d.Health == strata.Unhealthy {
					c.State = "unhealthy"
				}
			}
			if d := latest[k]; d != nil {
				if c.State == "" {
					c.State = d.State
				}
				c.Href = "/deployments/" + d.ID
				c.Title = s.Name + " in " + env.Name + ": " + d.State + " " + d.Version
			}
		}
		g.Rows = append(g.Rows, row)
		m.Shown++
	}
	slices.SortStableFunc(order, func(a, b string) int {
		// Environments without the label come last.
		last := func(s string) int {
			if strings.HasPrefix(s, "no ") {
				return 1
			}
			return 0
		}
		return cmp.Or(cmp.Compare(last(a), last(b)), cmp.Compare(a, b))
	})
	for _, gv := range order {
		m.Groups = append(m.Groups, *groups[gv])
	}
	m.LabelKeys = slices.Sorted(maps.Keys(keys))
	m.Waiting, err = u.waiting(ctx, v, now)
	return m, err
}

// waiting lists the promotions waiting on a gate into a stage the visitor reaches some of.
func (u *ui) waiting(ctx context.Context, v *visit, now time.Time) ([]waitingRow, error) {
	ps, err := v.engine.Store.Promotions(ctx, strata.PromotionFilter{States: []string{strata.Waiting}, Limit: 50})
	if err != nil {
		return nil, fmt.Errorf("read promotions: %w", err)
	}
	var out []waitingRow
	for _, p := range ps {
		if !v.seesStage(p.Stage) {
			continue
		}
		out = append(out, waitingRow{ID: p.ID, Service: p.Service, Version: p.Version, Stage: p.Stage, Requester: p.Requester, Age: age(now, p.CreatedAt)})
	}
	return out, nil
}

// renderFragment executes one named template of a page, without the layout: the answer
// to an htmx request that swaps part of a page.
func (u *ui) renderFragment(w http.ResponseWriter, r *http.Request, page, name string, data any) {
	buf := getBuffer()
	defer putBuffer(buf)
	if err := u.pages[page].ExecuteTemplate(buf, name, data); err != nil {
		u.log.Error("render fragment", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// labelText writes labels as "k=v, k=v", sorted.
func labelText(labels map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + labels[k])
	}
	return b.String()
}

// age says how long ago t was, in the largest whole unit: "45s", "12m", "3h", "5d".
func age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// funcs are the helpers the templates call.
func (u *ui) funcs() template.FuncMap {
	return template.FuncMap{
		"age": func(t time.Time) string { return age(u.now(), t) },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"dash": func(s string) string {
			if s == "" {
				return "-"
			}
			return s
		},
		"show": func(v any) string {
			if v == nil {
				return "-"
			}
			return fmt.Sprint(v)
		},
		"short": func(s string) string {
			if len(s) > 12 {
				return s[:12]
			}
			return s
		},
	}
}
