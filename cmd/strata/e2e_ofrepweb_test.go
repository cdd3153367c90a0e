package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestOFREPWithTheOpenFeatureWebSDKInChromium evaluates flags with OpenFeature's web SDK and
// its OFREP provider in headless Chromium: a page of another origin (so through CORS) that
// fetches every flag in bulk and polls with If-None-Match, and sees a kill while it polls.
func TestOFREPWithTheOpenFeatureWebSDKInChromium(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (.ci/run installs it: apt-get install chromium)")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "ofrep-js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@openfeature", "ofrep-web-provider")); err != nil {
		t.Skipf("the OpenFeature npm packages are not installed: run `npm ci --prefix %s` (.ci/run does)", dir)
	}
	e := newEstate(t, flagEstate)
	token := createToken(t, e, "web", "--role", "client", "--env", "prod-eu").Token
	api := serveFlags(t, e)
	page := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(page.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)

	q := url.Values{"url": {api}, "token": {token}, "plan": {"gold"}}
	if err := chromedp.Do(bctx, chromedp.Navigate(page.URL+"/web.html?"+q.Encode())); err != nil {
		t.Fatal(err)
	}
	var state string
	waitFor(t, time.Minute, "the page to set up the provider", func() bool {
		state, err = chromedp.Run(bctx, chromedp.Text(chromedp.ID("state")))
		return err == nil && state != "loading"
	})
	if state != "ready" {
		t.Fatalf("the page says %q", state)
	}
	eval := func(typ, key string, def any) jsResult {
		t.Helper()
		d, _ := json.Marshal(def)
		out, err := chromedp.Run(bctx, chromedp.Evaluate[string](`evaluate("`+typ+`", "`+key+`", `+string(d)+`)`))
		if err != nil {
			t.Fatal(err)
		}
		var r jsResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("evaluate gave %q: %v", out, err)
		}
		return r
	}

	if r := eval("boolean", "checkout", true); r.Value != false || r.Reason != "TARGETING_MATCH" {
		t.Errorf("checkout for a gold user = %+v, want false by the rule", r)
	}
	if r := eval("object", "theme", map[string]any{}); r.Value.(map[string]any)["color"] != "blue" {
		t.Errorf("theme = %+v", r)
	}
	if r := eval("boolean", "search", true); r.Value != false || r.Reason != "DISABLED" {
		t.Errorf("search before api 1.4.0 runs = %+v, want false, DISABLED", r)
	}
	e.must(0, "flag", "kill", "checkout", "--env", "prod-eu", "--reason", "incident")
	waitFor(t, 30*time.Second, "the polling web provider to see the kill", func() bool {
		r := eval("boolean", "checkout", false)
		return r.Reason == "DISABLED" && r.Value == true
	})
}
