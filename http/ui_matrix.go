package http

import (
	"cmp"
	"context"
	"fmt"
	"html"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
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
	// State is the ?state= filter; Summary heads the page; the rows are the page Page of
	// Shown (Prev and Next link the neighbours).
	State       string
	Summary     matrixSummary
	Page        int
	First, Last int
	PageSize    int
	States      []string
	Prev, Next  string
	// Collapsed shows each group as one summary row (?group=KEY&collapse=1).
	Collapsed bool
}

// matrixGroup is the rows that share one value of the group-by label ("" when not grouping).
type matrixGroup struct {
	Label string
	Rows  []matrixRow
	// Collapsed groups show one summary row: how many environments, how many with a cell
	// failed, unhealthy or running, and Expand, the address that shows the group's rows.
	N, Failed, Unhealthy, Running int
	Expand                        string
}

// matrixRow is one environment's row, written as HTML in Go: at 1,000 environments x 50
// services a template would spend most of the page's time on the cells.
type matrixRow struct {
	HTML template.HTML
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
	m, err := u.buildMatrix(r.Context(), v, q)
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

// buildMatrix gathers the matrix from the snapshot of each pair's newest deployment and
// newest succeeded one (what runs there), and the active deployments, to show those whose
// process is gone as interrupted. It counts the selection (the label and name filters)
// for the summary, then keeps the rows of ?state= and writes those of page ?page= only.
func (u *ui) buildMatrix(ctx context.Context, v *visit, q url.Values) (*matrixView, error) {
	labels, group, query := q["label"], q.Get("group"), strings.TrimSpace(q.Get("q"))
	p := v.engine.Project
	m := &matrixView{Services: p.ServiceNames(), Group: group, Query: query, Total: len(p.Environments), State: q.Get("state"), Page: 1}
	if m.State != "" && !slices.Contains(matrixStates, m.State) {
		m.Problem = fmt.Sprintf("state filter %q: want failed, unhealthy or running", m.State)
		m.State = ""
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		m.Page = n
	}
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
	snap, err := u.snaps.get(ctx, v.engine.Store)
	if err != nil {
		return nil, err
	}
	// The store says running until a resume takes a deployment over; the matrix says
	// interrupted as soon as its process is gone, as `strata status` does.
	gone := map[string]bool{}
	if ds, err := v.engine.Interrupted(ctx); err == nil {
		for _, d := range ds {
			gone[d.ID] = true
		}
	}
	keys := map[string]bool{}
	counts := map[string]int{}
	versions := map[string]map[string]int{}
	selected := 0
	var rows []*strata.Environment
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
		selected++
		f := flagsOf(env, p.Services, snap, gone)
		for _, st := range matrixStates {
			if f.has(st) {
				counts[st]++
			}
		}
		for _, s := range p.Services {
			if d, _ := snap.of(env, s.Name); d != nil {
				if versions[s.Name] == nil {
					versions[s.Name] = map[string]int{}
				}
				versions[s.Name][d.Version]++
			}
		}
		if f.has(m.State) {
			rows = append(rows, env)
		}
	}
	m.Shown = len(rows)
	if group != "" && q.Get("collapse") != "" {
		m.Collapsed = true
		m.Groups = collapse(rows, group, q, p.Services, snap, gone)
		m.LabelKeys = slices.Sorted(maps.Keys(keys))
		m.Waiting, err = u.waiting(ctx, v, u.now())
		m.Summary = summarize(q, selected, counts, versions, m.Services, len(m.Waiting))
		return m, err
	}
	if group != "" {
		// Groups come in label order, environments without the label last; a page is a
		// run of that order.
		gv := func(env *strata.Environment) (int, string) {
			if val, ok := env.Labels[group]; ok {
				return 0, val
			}
			return 1, ""
		}
		slices.SortStableFunc(rows, func(a, b *strata.Environment) int {
			la, va := gv(a)
			lb, vb := gv(b)
			return cmp.Or(cmp.Compare(la, lb), cmp.Compare(va, vb))
		})
	}
	m.Page = min(m.Page, max(1, (len(rows)+matrixPage-1)/matrixPage))
	m.First = (m.Page-1)*matrixPage + 1
	m.Last, m.PageSize, m.States = min(len(rows), m.Page*matrixPage), matrixPage, matrixStates
	m.Prev, m.Next = pageLinks(q, m.Page, len(rows))
	page := rows[min(len(rows), (m.Page-1)*matrixPage):min(len(rows), m.Page*matrixPage)]
	now := u.now()
	live, err := v.engine.Live(ctx) // the groups' live members, marked on their rows
	if err != nil {
		return nil, err
	}
	var cur *matrixGroup
	for _, env := range page {
		label := ""
		if group != "" {
			label = "no " + group
			if val, ok := env.Labels[group]; ok {
				label = group + "=" + val
			}
		}
		if cur == nil || cur.Label != label {
			m.Groups = append(m.Groups, matrixGroup{Label: label})
			cur = &m.Groups[len(m.Groups)-1]
		}
		cur.Rows = append(cur.Rows, matrixRow{HTML: rowHTML(env, p.Services, snap, gone, now, groupMark(p, live, env.Name))})
	}
	m.LabelKeys = slices.Sorted(maps.Keys(keys))
	m.Waiting, err = u.waiting(ctx, v, now)
	m.Summary = summarize(q, selected, counts, versions, m.Services, len(m.Waiting))
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
		"runPlace": report.RunPlace,
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
		"seconds": func(v *float64) string {
			if v == nil {
				return "-"
			}
			return (time.Duration(*v) * time.Second).Round(time.Second).String()
		},
		"percent": func(v *float64) string { return fmt.Sprintf("%.0f%%", *v*100) },
		"short": func(s string) string {
			if len(s) > 12 {
				return s[:12]
			}
			return s
		},
	}
}

// rowHTML writes one environment's row: its name (labels in the title), then per service
// the running version and its age, coloured by the state of the newest deployment, linked
// to that deployment. A short-lived environment made again under an old name starts empty.
//
// mark, when not empty, is the environment's role in its group (groupMark), shown after its
// name.
func rowHTML(env *strata.Environment, services []*strata.Service, snap *matrixSnapshot, gone map[string]bool, now time.Time, mark template.HTML) template.HTML {
	var b strings.Builder
	b.Grow(64 + 96*len(services))
	name := html.EscapeString(env.Name)
	b.WriteString(`<tr data-env="`)
	b.WriteString(name)
	b.WriteString(`"><th title="`)
	b.WriteString(html.EscapeString(labelText(env.Labels)))
	b.WriteString(`"><a href="/environments/`)
	b.WriteString(html.EscapeString(url.PathEscape(env.Name)))
	b.WriteString(`">`)
	b.WriteString(name)
	b.WriteString(`</a>`)
	if env.Ephemeral {
		b.WriteString(` <span class="muted">short-lived</span>`)
	}
	b.WriteString(string(mark))
	b.WriteString(`</th>`)
	for _, s := range services {
		k := pairKey{Service: s.Name, Environment: env.Name}
		cur, latest := snap.of(env, s.Name)
		if latest == nil {
			b.WriteString(`<td class="st-none">-</td>`)
			continue
		}
		state, version, ago, why := latest.State, "", "", ""
		if gone[latest.ID] {
			state = strata.Interrupted
		}
		if cur != nil {
			version, ago = cur.Version, age(now, cur.finished())
			if cur.healthNow(snap.health[k]) == strata.Unhealthy && state == strata.Succeeded {
				state = "unhealthy"
				if c := snap.health[k]; c != nil && c.Deployment == cur.ID {
					why = "unhealthy since " + c.Since.UTC().Format("2006-01-02 15:04:05Z") + ": " + c.Detail
				}
			}
		}
		b.WriteString(`<td class="st-`)
		b.WriteString(html.EscapeString(state))
		if why != "" {
			b.WriteString(`" title="`)
			b.WriteString(html.EscapeString(why))
		}
		b.WriteString(`"><a href="/deployments/`)
		b.WriteString(url.PathEscape(latest.ID))
		b.WriteString(`">`)
		if version == "" {
			version = latest.State
		}
		b.WriteString(html.EscapeString(version))
		b.WriteString(`</a> <small>`)
		b.WriteString(ago)
		b.WriteString(`</small></td>`)
	}
	b.WriteString("</tr>\n")
	return template.HTML(b.String())
}
