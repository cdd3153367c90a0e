package http_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestSwitchingInChromium walks a switch as a person would: alice opens the standby's page,
// says why, sees the gates, confirms, and the page then says the standby is live.
func TestSwitchingInChromium(t *testing.T) {
	t.Parallel()
	x := newUIEstate(t, uiGroupYAML)
	b := chromium(t)
	do(t, b, "log in as alice",
		chromedp.Navigate(x.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), x.tokens["alice"]),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("principal")),
	)
	waitText(t, b, `tr[data-env="prod-us"] th`, "the matrix marks prod-us live", func(s string) bool { return strings.Contains(s, "live") })

	do(t, b, "open the standby and ask for the switch",
		chromedp.Navigate(x.srv.URL+"/environments/prod-eu"),
		chromedp.WaitVisible(chromedp.ID("switch")),
		chromedp.SendKeys(chromedp.CSS(`#switch-actions input[name="reason"]`), "eu takes the traffic"),
		chromedp.Click(chromedp.ID("switch")),
		chromedp.WaitVisible(chromedp.ID("switch-gates")),
	)
	waitText(t, b, `tr[data-gate="health"]`, "the health gate is shown open", func(s string) bool { return strings.Contains(s, "open") })

	do(t, b, "confirm",
		chromedp.Click(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	waitText(t, b, "#flash", "the switch is confirmed", func(s string) bool { return strings.Contains(s, "prod-eu is live") })
	waitText(t, b, "#group", "the page says prod-eu is live", is("shop: live"))
}
