package http_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestScreenshotsOfTheMainPages takes screenshots of the main pages of a small estate,
// desktop and phone, and checks each is a picture; STRATA_UPDATE_SCREENSHOT=1 writes those
// of stats and the graph under docs/screens, which docs/ui.md shows (the matrix, an
// environment, a release and a service are shown at 10,000 environments:
// TestTheDashboardAtTenThousandEnvironmentsInChromium).
func TestScreenshotsOfTheMainPages(t *testing.T) {
	x := newUIEstate(t, browserYAML)
	ctx := context.Background()
	if _, err := x.as("alice").Release(ctx, "web", "1.4.0"); err != nil {
		t.Fatal(err)
	}
	x.as("alice").Release(ctx, "worker", "2.0.1") // fails in staging: a red cell
	b := chromium(t)
	do(t, b, "log in",
		chromedp.Navigate(x.srv.URL+"/"),
		chromedp.SendKeys(chromedp.ID("token"), x.tokens["carol"]),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("principal")),
	)
	pages := []struct{ name, path, ready string }{
		{"matrix", "/", "#summary"},
		{"environment", "/environments/prod-eu", "#chain"},
		{"stats", "/stats", "#weekly-chart"},
		{"graph", "/graph", "#estate-graph"},
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 860}, {"phone", 390, 844}} {
		for _, p := range pages {
			do(t, b, "show "+p.path+" on a "+size.name,
				chromedp.EmulateViewport(size.w, size.h),
				chromedp.Navigate(x.srv.URL+p.path),
				chromedp.WaitVisible(p.ready),
			)
			shot, err := chromedp.Run(b, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if len(shot) < 1000 {
				t.Fatalf("%s on a %s: a screenshot of %d bytes", p.path, size.name, len(shot))
			}
			if os.Getenv("STRATA_UPDATE_SCREENSHOT") != "" && (p.name == "stats" || p.name == "graph") {
				dir := filepath.Join("..", "docs", "screens")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, p.name+"-"+size.name+".png"), shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
