package http_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const uiFlagsYAML = `project: shop
environments:
  dev: {labels: {tier: dev}}
  prod: {labels: {tier: prod}}
services:
  api: {deploy: "true"}
flags:
  checkout:
    type: boolean
    default: false
    rules: [{when: {plan: gold}, value: true}]
`

func TestTheFlagsPageShowsEachFlagAndKillsItForThoseWhoMayDeploy(t *testing.T) {
	x := newUIEstate(t, uiFlagsYAML)
	alice := x.login(t, "alice") // deployer
	_, page := alice.get("/flags?env=prod")
	for _, want := range []string{`data-flag="checkout"`, "DEFAULT", "strata.yaml:10:14", `id="kill-checkout"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the flags page lacks %q:\n%s", want, page)
		}
	}
	victor := x.login(t, "victor") // viewer
	if _, page := victor.get("/flags?env=prod"); strings.Contains(page, `id="kill-checkout"`) || !strings.Contains(page, `data-flag="checkout"`) {
		t.Errorf("a viewer sees the flag without a kill switch; got:\n%s", page)
	}
	if res, _ := victor.post("/flags/checkout/kill", url.Values{"csrf": {victor.csrf()}, "env": {"prod"}, "reason": {"x"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's kill answered %d, want 403", res.StatusCode)
	}
	devon := x.login(t, "devon") // viewer of dev only
	if res, _ := devon.get("/flags?env=prod"); res.StatusCode != http.StatusForbidden {
		t.Errorf("a token scoped to dev got %d for prod's flags, want 403", res.StatusCode)
	}

	res, _ := alice.post("/flags/checkout/kill", url.Values{"csrf": {alice.csrf()}, "env": {"prod"}, "reason": {"checkout errors <script>"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/flags?env=prod" {
		t.Fatalf("the kill answered %d to %q, want 303 to the environment's flags", res.StatusCode, res.Header.Get("Location"))
	}
	res, page = alice.get("/flags?env=prod")
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Killed checkout in prod") || !strings.Contains(page, "killed: checkout errors &lt;script&gt;") || !strings.Contains(page, `id="unkill-checkout"`) {
		t.Fatalf("after the kill: %d\n%s", res.StatusCode, page)
	}
	if !strings.Contains(page, "alice") {
		t.Errorf("the page does not say who killed it:\n%s", page)
	}
	alice.post("/flags/checkout/unkill", url.Values{"csrf": {alice.csrf()}, "env": {"prod"}})
	res, page = alice.get("/flags?env=prod")
	if res.StatusCode != http.StatusOK || strings.Contains(page, `class="killed"`) {
		t.Fatalf("after the unkill: %d\n%s", res.StatusCode, page)
	}
}
