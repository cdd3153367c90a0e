package http_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// scaleEnvs is the size of the estate the dashboard is walked through in Chromium: the
// size issue 14 holds it to.
const scaleEnvs = 10000

// scaleServices are its services: api has a config schema with a secret, so that an
// environment page has provenance to show and a secret not to.
var scaleServices = []string{"api", "web", "worker", "cache", "queue"}

// scaleYAML is an estate of scaleEnvs environments in five regions. env-0000 is the dev
// stage, which every release lands in; env-0001 is the canary stage, behind one approval,
// and env-0002 extends it with config of its own.
func scaleYAML() string {
	var y strings.Builder
	y.WriteString("project: big\ndefaults:\n  config: {LOG_LEVEL: info}\nenvironments:\n")
	regions := []string{"us-east", "us-west", "eu-west", "eu-central", "ap-south"}
	for i := range scaleEnvs {
		fmt.Fprintf(&y, "  env-%04d:\n", i)
		switch i {
		case 1:
			y.WriteString("    labels: {tier: canary, region: us-east}\n    policy: {approvals: 1}\n")
			continue
		case 2:
			y.WriteString("    extends: env-0001\n    labels: {tier: prod, region: eu-west}\n    config: {LOG_LEVEL: warn}\n")
			continue
		}
		fmt.Fprintf(&y, "    labels: {tier: prod, region: %s, tenant: t%03d}\n", regions[i%len(regions)], i%97)
	}
	y.WriteString("services:\n")
	for _, s := range scaleServices {
		fmt.Fprintf(&y, "  %s:\n    deploy: \"true\"\n", s)
		if s == "api" {
			y.WriteString("    config:\n      LOG_LEVEL: {type: string, enum: [debug, info, warn, error]}\n      DB_PASSWORD: {type: string, secret: true}\n")
		}
	}
	y.WriteString("pipeline:\n  - stage: dev\n    environments: [env-0000]\n    auto: true\n  - stage: canary\n    environments: [env-0001]\n")
	return y.String()
}

// seedDeployments records, in one transaction straight into the store's file, a
// succeeded deployment of 1.2.3 in every pair of the estate, then a failed one in each pair
// of failed: what the engine would record, without 50,000 engine runs (a test's budget).
// The rows are those CreateDeployment writes; the matrix reads them as it reads any.
func seedDeployments(t *testing.T, dir string, failed [][2]string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, ".strata", "state.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ins, err := tx.Prepare(`INSERT INTO deployments (id, service, environment, version, state, attempt, kind, health, created_at, started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, 1, 'deploy', ?, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-2 * time.Hour).UnixNano()
	n := 0
	add := func(svc, env, version, state, health string) {
		n++
		created := at + int64(n)*int64(time.Microsecond)
		if _, err := ins.Exec(fmt.Sprintf("d-seed%07d", n), svc, env, version, state, health, created, created, created+int64(time.Minute)); err != nil {
			t.Fatalf("seed %s in %s: %v", svc, env, err)
		}
	}
	for i := range scaleEnvs {
		for _, s := range scaleServices {
			add(s, fmt.Sprintf("env-%04d", i), "1.2.3", strata.Succeeded, strata.Healthy)
		}
	}
	for _, f := range failed {
		add(f[0], f[1], "1.2.4", strata.Failed, "")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestTheDashboardAtTenThousandEnvironmentsInChromium walks a 10,000-environment estate in
// Chromium: the summary counts what the store holds, ?state=failed finds exactly the
// environments with a failed cell, an environment page shows where each value comes from
// and never a secret's value, and an approval and a freeze made through the pages are
// audited as the CLI's are. With STRATA_UPDATE_SCREENSHOT=1 it writes the screenshots of
// the matrix, an environment, a release and a service, desktop and phone, under
// docs/screens (TestScreenshotsOfTheMainPages writes those of stats and the graph, which
// show more on a small estate).
func TestTheDashboardAtTenThousandEnvironmentsInChromium(t *testing.T) {
	t.Parallel() // its own store, server and browser
	if testing.Short() {
		t.Skip("an estate of 10,000 environments")
	}
	failed := [][2]string{{"worker", "env-0007"}, {"api", "env-0420"}, {"queue", "env-5000"}, {"worker", "env-5000"}, {"cache", "env-9999"}}
	dir := writeProject(t, scaleYAML())
	openStore(t, dir) // makes the store's file and schema
	seedDeployments(t, dir, failed)
	x := newUIEstateIn(t, dir)
	ctx := context.Background()
	for _, svc := range scaleServices { // what the seeded deployments deployed
		r := &strata.Release{Service: svc, Version: "1.2.3", Digest: "sha256:" + strings.Repeat("0", 64), CreatedBy: "ci", CreatedAt: time.Now().Add(-3 * time.Hour)}
		if err := x.store.CreateRelease(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	alice := x.as("alice")
	if _, err := alice.Release(ctx, "api", "2.0.0"); err != nil { // lands in env-0000
		t.Fatal(err)
	}
	res, err := alice.Promote(ctx, engine.PromoteRequest{Service: "api", Version: "2.0.0", To: "canary"})
	if strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("promote to canary: %v, want it waiting for an approval", err)
	}
	promo := res.Promotion.ID

	b := chromium(t)
	do(t, b, "log in as carol, an admin",
		chromedp.Navigate(x.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), x.tokens["carol"]),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("summary")),
	)
	waitText(t, b, "#principal", "logged in as carol", is("carol"))

	failedEnvs := map[string]bool{}
	for _, f := range failed {
		failedEnvs[f[1]] = true
	}
	counts := map[string]string{
		"#n-environments": fmt.Sprintf("%d environments", scaleEnvs),
		"#n-failed":       fmt.Sprintf("%d failed", len(failedEnvs)),
		"#n-unhealthy":    "0 unhealthy",
		"#n-running":      "0 running",
		"#n-waiting":      "1 waiting promotions",
	}
	for sel, want := range counts {
		if got := text(t, b, sel); got != want {
			t.Errorf("the summary's %s reads %q, want %q", sel, got, want)
		}
	}
	for svc, want := range map[string]string{
		"api":    fmt.Sprintf("1.2.3 %d · 2.0.0 1", scaleEnvs-1), // 2.0.0 landed in dev
		"worker": fmt.Sprintf("1.2.3 %d", scaleEnvs),             // 1.2.4 failed: 1.2.3 still runs
	} {
		if got := text(t, b, `#versions tr[data-service="`+svc+`"] td`); got != want {
			t.Errorf("the summary says %s runs %q, want %q", svc, got, want)
		}
	}

	do(t, b, "follow the failed count", chromedp.Click(chromedp.ID("n-failed")), chromedp.WaitVisible(chromedp.CSS(`tr[data-env="env-9999"]`)))
	rows, err := chromedp.Run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("tr[data-env]")].map(r => r.dataset.env)`))
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(func(yield func(string) bool) {
		for e := range failedEnvs {
			if !yield(e) {
				return
			}
		}
	})
	if !slices.Equal(rows, want) {
		t.Errorf("?state=failed shows %v, want exactly the environments with a failed cell %v", rows, want)
	}
	redCells, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("#matrix td.st-failed").length`))
	if err != nil {
		t.Fatal(err)
	}
	if redCells != len(failed) {
		t.Errorf("the filtered matrix has %d failed cells, want %d", redCells, len(failed))
	}

	do(t, b, "open the waiting promotion from the matrix",
		chromedp.Navigate(x.srv.URL+"/"),
		chromedp.Click(chromedp.CSS("a.promo")),
		chromedp.WaitVisible(chromedp.ID("approve-"+promo)),
	)
	shoot(t, b, "release")
	do(t, b, "approve it", chromedp.Click(chromedp.ID("approve-"+promo)), chromedp.WaitVisible(chromedp.ID("flash")))
	waitText(t, b, "#flash", "the approval is confirmed", func(s string) bool { return strings.Contains(s, "Approved "+promo) })
	waitPromotion(t, x, promo)

	do(t, b, "open env-0002's page",
		chromedp.Navigate(x.srv.URL+"/environments/env-0002"),
		chromedp.WaitVisible(chromedp.ID("chain")),
	)
	if got := text(t, b, "#chain"); got != "env-0002 → env-0001" {
		t.Errorf("the extends chain reads %q", got)
	}
	config := text(t, b, `table.config[data-service="api"]`)
	provenance := regexp.MustCompile(`LOG_LEVEL\s+warn\s+strata\.yaml:\d+:\d+`)
	if !provenance.MatchString(config) || !strings.Contains(config, "DB_PASSWORD") || !strings.Contains(config, "secret") {
		t.Errorf("api's config on env-0002's page does not show LOG_LEVEL warn from strata.yaml:line:col and DB_PASSWORD as secret:\n%s", config)
	}
	shoot(t, b, "environment")
	reason := `incident <b>42</b> & "the rest"`
	do(t, b, "freeze env-0002",
		chromedp.SendKeys(chromedp.ID("freeze-reason"), reason),
		chromedp.Click(chromedp.ID("freeze")),
		chromedp.WaitVisible(chromedp.ID("unfreeze")),
	)
	waitText(t, b, "#frozen", "the page says env-0002 is frozen", func(s string) bool { return strings.Contains(s, "by carol") && strings.Contains(s, reason) })

	for _, path := range []string{"/environments/env-0002", "/", "/releases/api/2.0.0", "/services/api"} {
		do(t, b, "open "+path, chromedp.Navigate(x.srv.URL+path))
		html, err := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, x.secret) {
			t.Fatalf("%s shows the secret's value", path)
		}
	}

	events, err := x.store.Events(ctx, strata.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for _, e := range events {
		var detail struct{ Reason string }
		json.Unmarshal(e.Detail, &detail)
		switch {
		case e.Actor == "carol" && e.Action == "approve" && e.Subject == promo,
			e.Actor == "carol" && e.Action == "freeze" && e.Environment == "env-0002" && detail.Reason == reason:
			audited = append(audited, e.Action)
		}
	}
	slices.Sort(audited)
	if strings.Join(audited, ", ") != "approve, freeze" {
		t.Errorf("carol's actions audited through the pages: %v, want the approve of %s and the freeze of env-0002 with its reason", audited, promo)
	}

	for _, s := range []struct{ name, path, ready string }{
		{"matrix", "/", "#summary"},
		{"service", "/services/api", "#releases"},
	} {
		do(t, b, "open "+s.path, chromedp.Navigate(x.srv.URL+s.path), chromedp.WaitVisible(s.ready))
		shoot(t, b, s.name)
	}
}

// shoot takes the page as it is at a desktop's width and a phone's (390 px), checks each is
// a picture, and with STRATA_UPDATE_SCREENSHOT=1 writes them as docs/screens/NAME-desktop.png
// and NAME-phone.png. It leaves the browser at the desktop's width.
func shoot(t *testing.T, b context.Context, name string) {
	t.Helper()
	for _, size := range []struct {
		name string
		w, h int64
	}{{"phone", 390, 844}, {"desktop", 1280, 860}} {
		do(t, b, "show "+name+" on a "+size.name, chromedp.EmulateViewport(size.w, size.h))
		shot, err := chromedp.Run(b, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot of %s on a %s: %v", name, size.name, err)
		}
		if len(shot) < 1000 {
			t.Fatalf("%s on a %s: a screenshot of %d bytes", name, size.name, len(shot))
		}
		if os.Getenv("STRATA_UPDATE_SCREENSHOT") != "" {
			dir := filepath.Join("..", "docs", "screens")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+"-"+size.name+".png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
