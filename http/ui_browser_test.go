package http_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// browserYAML is the estate the browser walks through: prod waits for one approval, and
// api's deploy step in prod runs until the test writes the file "release" in the project
// directory, so that its page can be watched live however slow the machine is.
const browserYAML = `project: shop
environments:
  dev:
    labels: {tier: dev, region: us-east}
  staging:
    labels: {tier: staging, region: us-east}
  prod-us:
    labels: {tier: prod, region: us-east}
    policy: {approvals: 1}
    config: {HOLD: "yes"}
  prod-eu:
    extends: prod-us
    labels: {region: eu-west, residency: eu}
  prod-ap:
    extends: prod-us
    labels: {region: ap-south}
services:
  api:
    deploy: "echo starting $STRATA_SERVICE in $STRATA_ENV; while [ ${config.HOLD} = yes ] && [ ! -e release ]; do sleep 0.05; done; echo finished $STRATA_ENV"
    config:
      HOLD: {type: string, default: "no"}
  web:
    deploy: "echo web up in $STRATA_ENV"
  worker:
    deploy: "echo worker in $STRATA_ENV; test $STRATA_ENV != staging"
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: staging
    environments: [staging]
    auto: true
  - stage: prod
    environments: {tier: prod}
`

// chromium starts Debian's Chromium headless (.ci/run installs it where missing) and
// returns a browser context.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (.ci/run installs it: apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 860),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// text reads the text of the first element sel matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// waitText waits until the text of the first element sel matches holds, and fails the test
// with the last text read when it does not within a minute (a bound for a hung page, not a
// measure of speed): pages change after a swap or a poll, so a read at once may see the
// page before.
func waitText(t *testing.T, ctx context.Context, sel, what string, holds func(string) bool) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		got = text(t, ctx, sel)
		if holds(got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s reads %q", what, sel, got)
		}
	}
}

// is returns a condition for waitText: the text is want.
func is(want string) func(string) bool { return func(s string) bool { return s == want } }

// do runs browser steps and fails the test, saying what it was doing, when one fails.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestDashboardInChromium walks the dashboard as a person would: bob logs in, finds an
// environment in the matrix, opens the promotion alice asked for, approves it (a second
// principal), and watches its deployment finish live.
func TestDashboardInChromium(t *testing.T) {
	t.Parallel() // its own store, server and browser; most of its time is waiting on Chromium
	x := newUIEstate(t, browserYAML)
	t.Cleanup(func() { os.WriteFile(filepath.Join(x.dir, "release"), nil, 0o644) }) // whatever happens
	ctx := context.Background()
	alice := x.as("alice")
	for _, s := range []string{"api", "web", "worker"} {
		alice.Release(ctx, s, "1.4.0") // worker fails in staging, on purpose: a red cell
	}
	res, err := alice.Promote(ctx, engine.PromoteRequest{Service: "api", Version: "1.4.0", To: "prod"})
	if strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("promote: %v, want it waiting for an approval", err)
	}
	p := res.Promotion
	b := chromium(t)

	do(t, b, "log in",
		chromedp.Navigate(x.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), x.tokens["bob"]),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("principal")),
	)
	waitText(t, b, "#principal", "logged in as bob", is("bob"))

	do(t, b, "find prod-eu in the matrix",
		chromedp.SendKeys(chromedp.ID("q"), "prod-eu"),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-env="dev"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-env="prod-eu"]`)),
	)
	// Each key typed may swap the matrix (prod- shows three rows without dev): wait for the
	// swap of the whole name.
	waitText(t, b, "#count", "prod-eu alone is shown", is("1 of 5 environments"))

	do(t, b, "open the waiting promotion",
		chromedp.Click(chromedp.CSS("a.promo")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-gate="approvals"]`)),
	)
	waitText(t, b, `tr[data-gate="approvals"]`, "the approvals gate is closed at 0 of 1", func(s string) bool {
		return strings.Contains(s, "closed") && strings.Contains(s, "0 of 1")
	})

	do(t, b, "approve it",
		chromedp.Click(chromedp.ID("approve-"+p.ID)),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	waitText(t, b, "#flash", "the approval is confirmed", func(s string) bool { return strings.Contains(s, "Approved "+p.ID) })
	ds, err := x.store.Deployments(ctx, strata.DeploymentFilter{PromotionID: p.ID, Environment: "prod-us"})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deployments of the promotion in prod-us: %v, %d", err, len(ds))
	}

	do(t, b, "open its deployment in prod-us",
		chromedp.Click(chromedp.CSS(`a[href="/deployments/`+ds[0].ID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("state")),
	)
	if got := text(t, b, "#state"); got != strata.Running {
		t.Fatalf("the deployment is %q when its page opens, want running (the step waits for the test)", got)
	}
	waitText(t, b, "#log", "the step's first line is shown live", func(s string) bool { return strings.Contains(s, "starting api in prod-us") })
	if got := text(t, b, "#log"); strings.Contains(got, "finished") {
		t.Fatalf("the step finished before it was let go: %q", got)
	}
	if err := os.WriteFile(filepath.Join(x.dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, b, "watch it finish",
		chromedp.Poll[chromedp.Void](`document.querySelector("#state") && document.querySelector("#state").textContent === "succeeded"`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)),
	)
	if got := text(t, b, "#log"); !strings.Contains(got, "starting api in prod-us") || !strings.Contains(got, "finished prod-us") {
		t.Fatalf("log %q", got)
	}

	waitPromotion(t, x, p.ID)
	// One more waiting promotion, so that the screenshot shows the list of them too.
	alice.Promote(ctx, engine.PromoteRequest{Service: "web", Version: "1.4.0", To: "prod"})
	do(t, b, "show every environment, grouped by region",
		chromedp.Navigate(x.srv.URL+"/?group=region"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-env="prod-ap"]`)),
	)
	shot, err := chromedp.Run(b, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(shot) < 1000 {
		t.Fatalf("screenshot of %d bytes", len(shot))
	}
	if os.Getenv("STRATA_UPDATE_SCREENSHOT") != "" {
		if err := os.WriteFile(filepath.Join("..", "docs", "ui-matrix.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
