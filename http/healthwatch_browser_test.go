package http_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAnUnhealthyDeploymentIsRedInChromium: a deployment whose check, run again after the
// deployment, fails is a red cell whose tooltip says what the check saw, even when what it
// saw is markup; it turns back when the check passes again.
func TestAnUnhealthyDeploymentIsRedInChromium(t *testing.T) {
	x, h := newWatchEstate(t, "")
	hostile := `<img src=x onerror="document.title='pwned'">`
	h.set("dev", 200, hostile)
	x.server.RecheckHealth(t.Context())
	b := chromium(t)

	const dev = `tr[data-env="dev"] td:nth-of-type(1)`
	const prod = `tr[data-env="prod"] td:nth-of-type(1)`
	do(t, b, "log in and see the matrix",
		chromedp.Navigate(x.url+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), x.tokens["victor"]),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-env="dev"]`)),
	)
	attr := func(sel, name string) string {
		t.Helper()
		r, err := chromedp.Run(b, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil {
			t.Fatalf("read %s of %s: %v", name, sel, err)
		}
		return r.Value
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(b, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	devClass, prodClass, title := attr(dev, "class"), attr(prod, "class"), attr(dev, "title")
	devColour := eval(`getComputedStyle(document.querySelector('` + dev + `')).backgroundColor`)
	prodColour := eval(`getComputedStyle(document.querySelector('` + prod + `')).backgroundColor`)
	pageTitle, err := chromedp.Run(b, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if devClass != "st-unhealthy" || prodClass != "st-succeeded" {
		t.Errorf("api's cells: dev %q, prod %q; want st-unhealthy and st-succeeded", devClass, prodClass)
	}
	if devColour == prodColour {
		t.Errorf("the unhealthy cell is coloured %s like the healthy one", devColour)
	}
	if !strings.HasPrefix(title, "unhealthy since ") || !strings.Contains(title, `body does not contain "v1"`) || !strings.Contains(title, `\"document.title='pwned'\"`) {
		t.Errorf("tooltip %q, want since when and what the check saw, as text", title)
	}
	if pageTitle == "pwned" {
		t.Error("what the check saw ran as markup in the page")
	}

	h.set("dev", 200, "ok api v1 (dev)")
	x.server.RecheckHealth(t.Context())
	do(t, b, "reload once it recovered",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-env="dev"] td.st-succeeded`)),
	)
}
