package http

import (
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/strata-dev/strata/report"
)

// statsView is the DORA page: the figures of `strata stats` and a chart per week.
type statsView struct {
	Stats   *report.Stats
	Service string
	Since   string
	// Chart is the weekly chart of the services shown, drawn here as SVG: no script, no
	// library fetched at run time.
	Chart template.HTML
}

// stats shows the DORA figures of every service the visitor's environments hold
// (?service=, ?since=30d), as `strata stats` computes them, and a chart of deployments per
// week with the failed ones marked.
func (u *ui) stats(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	req := report.StatsRequest{Service: q.Get("service"), Since: q.Get("since")}
	if req.Since == "" {
		req.Since = "30d"
	}
	var covers func(string) bool
	if len(v.token.Envs) > 0 {
		covers = v.covers
	}
	doc, err := report.NewStats(r.Context(), v.engine, req, covers)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	view := statsView{Stats: doc, Service: req.Service, Since: req.Since, Chart: weeklyChart(doc.WeeklyTotals())}
	u.render(w, r, v, http.StatusOK, "stats", "Stats", view)
}

// weeklyChart draws weeks as bars: the height of a bar is the week's deployments, its red
// part the failed ones; a dot above it marks the releases that reached the last stage.
func weeklyChart(weeks []report.WeekStats) template.HTML {
	const barW, gap, height, top, bottom = 28, 8, 120, 16, 34
	peak := 1
	for _, w := range weeks {
		peak = max(peak, w.Deployments)
	}
	width := len(weeks)*(barW+gap) + gap
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="weekly-chart" class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		width, height+top+bottom, width, height+top+bottom)
	b.WriteString(`<title>Deployments per week; failed ones in red</title>`)
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" class="axis"/>`, top+height, width, top+height)
	for i, w := range weeks {
		x := gap + i*(barW+gap)
		h := w.Deployments * height / peak
		f := w.Failures * height / peak
		label := html.EscapeString(fmt.Sprintf("week of %s: %d deployments, %d failed, %d releases", w.Week.Format(time.DateOnly), w.Deployments, w.Failures, w.Releases))
		fmt.Fprintf(&b, `<g class="week" data-week="%s" data-deployments="%d" data-failures="%d"><title>%s</title>`, w.Week.Format(time.DateOnly), w.Deployments, w.Failures, label)
		if h > 0 {
			fmt.Fprintf(&b, `<rect class="ok" x="%d" y="%d" width="%d" height="%d"/>`, x, top+height-h, barW, h-f)
		}
		if f > 0 {
			fmt.Fprintf(&b, `<rect class="failed" x="%d" y="%d" width="%d" height="%d"/>`, x, top+height-f, barW, f)
		}
		if w.Deployments > 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="count">%d</text>`, x+barW/2, top+height-h-4, w.Deployments)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="day">%s</text></g>`, x+barW/2, top+height+14, w.Week.Format("Jan 2"))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
