package http_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestStatsPageShowsTheFiguresAndAWeeklyChart(t *testing.T) {
	x := newUIEstate(t, browserYAML)
	if _, err := x.as("alice").Release(context.Background(), "web", "1"); err != nil {
		t.Fatal(err)
	}
	b := x.login(t, "bob")
	res, page := b.get("/stats?since=14d")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /stats: %d %.300s", res.StatusCode, page)
	}
	for _, want := range []string{`id="stats"`, `data-service="web"`, `<svg id="weekly-chart"`, "change failure rate", `class="week"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the stats page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") && strings.Contains(page, "chart.js") {
		t.Error("the chart must be drawn by the server, without a script library")
	}
	res, page = b.get("/stats?since=soon")
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "--since") {
		t.Errorf("GET /stats?since=soon: %d; want 400 saying what --since takes", res.StatusCode)
	}
}

// TestPagesFitAPhone checks at 390 px wide that no page is wider than the screen (the
// header wraps, tables scroll inside their own boxes) and that the matrix's sticky header
// is drawn above its rows.
func TestPagesFitAPhone(t *testing.T) {
	x := newUIEstate(t, browserYAML)
	if _, err := x.as("alice").Release(context.Background(), "web", "1"); err != nil {
		t.Fatal(err)
	}
	ctx := chromium(t)
	do(t, ctx, "log in on a phone",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(x.srv.URL+"/"),
		chromedp.SendKeys(chromedp.ID("token"), x.tokens["bob"]),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("principal")),
	)
	for _, path := range []string{"/", "/releases", "/audit", "/stats", "/diff"} {
		do(t, ctx, "open "+path,
			chromedp.Navigate(x.srv.URL+path),
			chromedp.WaitVisible(chromedp.ID("principal")),
		)
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if width > 390 {
			t.Errorf("%s is %d px wide on a 390 px screen", path, width)
		}
	}
	do(t, ctx, "open the matrix",
		chromedp.Navigate(x.srv.URL+"/"),
		chromedp.WaitVisible(`table.matrix`),
	)
	above, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
			const h = getComputedStyle(document.querySelector('table.matrix thead th:nth-child(2)'));
			const r = getComputedStyle(document.querySelector('table.matrix tbody th'));
			return h.position === 'sticky' && Number(h.zIndex) > Number(r.zIndex || 0);
		})()`))
	if err != nil {
		t.Fatal(err)
	}
	if !above {
		t.Error("the matrix's sticky header is not drawn above its rows")
	}
}

func TestGraphPageDrawsTheEstateAsSVG(t *testing.T) {
	x := newUIEstate(t, browserYAML)
	b := x.login(t, "bob")
	res, page := b.get("/graph")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /graph: %d", res.StatusCode)
	}
	for _, want := range []string{`<svg xmlns="http://www.w3.org/2000/svg" class="graph" id="estate-graph"`, `data-id="env:prod-eu"`, `data-id="stage:prod"`, `class="edge extends"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the graph page lacks %q", want)
		}
	}
	if _, page := b.get("/graph?env=dev"); strings.Contains(page, `data-id="env:prod-eu"`) {
		t.Error("?env=dev still draws prod-eu")
	}
}
