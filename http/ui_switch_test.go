package http_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

// uiGroupYAML is uiYAML with prod-us and prod-eu as a group whose switch step says where
// the traffic went.
var uiGroupYAML = strings.Replace(uiYAML, "services:", `groups:
  shop:
    environments: [prod-us, prod-eu]
    live: prod-us
    switch: echo "traffic of $STRATA_GROUP to $STRATA_TO"
services:`, 1)

func TestSwitchingAndFailingOverFromTheDashboard(t *testing.T) {
	x := newUIEstate(t, uiGroupYAML)
	live := func() string {
		t.Helper()
		l, err := x.engine.Live(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return l["shop"]
	}
	events := func(action, actor string) []*strata.Event {
		t.Helper()
		es, err := x.store.Events(context.Background(), strata.EventFilter{Action: action, Actor: actor})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}

	t.Run("the matrix and the environment page mark the live member", func(t *testing.T) {
		b := x.login(t, "victor")
		_, page := b.get("/")
		if !strings.Contains(page, `data-group="shop" data-role="live"`) || !strings.Contains(page, `data-group="shop" data-role="standby"`) {
			t.Fatalf("the matrix does not mark the group's members:\n%s", page)
		}
		_, env := b.get("/environments/prod-eu")
		if !strings.Contains(env, `id="group" data-group="shop" data-role="standby"`) || strings.Contains(env, `id="switch-actions"`) {
			t.Fatalf("the viewer's page of the standby:\n%s", env)
		}
	})

	t.Run("a viewer cannot post a switch", func(t *testing.T) {
		b := x.login(t, "victor")
		res, _ := b.post("/groups/shop/switch", url.Values{"csrf": {b.csrf()}, "to": {"prod-eu"}, "kind": {"switch"}, "confirm": {"1"}})
		if res.StatusCode != http.StatusForbidden || live() != "prod-us" {
			t.Fatalf("a viewer's switch: status %d, live %s", res.StatusCode, live())
		}
	})

	t.Run("a deployer's switch shows the gates first, changing nothing, then switches as that principal", func(t *testing.T) {
		b := x.login(t, "alice")
		_, env := b.get("/environments/prod-eu")
		if !strings.Contains(env, `id="switch"`) || strings.Contains(env, `id="failover"`) {
			t.Fatalf("the deployer's page of the standby offers switch only:\n%s", env)
		}
		res, page := b.post("/groups/shop/switch", url.Values{"csrf": {b.csrf()}, "to": {"prod-eu"}, "kind": {"switch"}, "reason": {"try eu"}})
		if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="switch-gates"`) || !strings.Contains(page, `data-gate="health"`) {
			t.Fatalf("the gates page (%d):\n%s", res.StatusCode, page)
		}
		if live() != "prod-us" || len(events("switch.request", "alice")) != 0 {
			t.Fatal("showing the gates switched")
		}
		res, _ = b.post("/groups/shop/switch", url.Values{"csrf": {b.csrf()}, "to": {"prod-eu"}, "kind": {"switch"}, "reason": {"try eu"}, "confirm": {"1"}})
		if res.StatusCode != http.StatusSeeOther || live() != "prod-eu" || len(events("switch.succeeded", "alice")) != 1 {
			t.Fatalf("confirming: status %d, live %s", res.StatusCode, live())
		}
		res, _ = b.post("/groups/shop/switch", url.Values{"csrf": {b.csrf()}, "to": {"prod-us"}, "kind": {"failover"}, "reason": {"x"}, "confirm": {"1"}})
		if res.StatusCode != http.StatusForbidden || live() != "prod-eu" {
			t.Fatalf("a deployer's failover: status %d, live %s", res.StatusCode, live())
		}
	})

	t.Run("an approver fails over with a reason, recorded as the break-glass", func(t *testing.T) {
		b := x.login(t, "bob")
		_, env := b.get("/environments/prod-us")
		if !strings.Contains(env, `id="failover"`) || strings.Contains(env, `id="switch"`) {
			t.Fatalf("the approver's page of the standby offers failover only:\n%s", env)
		}
		res, _ := b.post("/groups/shop/switch", url.Values{"csrf": {b.csrf()}, "to": {"prod-us"}, "kind": {"failover"}, "reason": {"eu <down>"}, "confirm": {"1"}})
		if res.StatusCode != http.StatusSeeOther || live() != "prod-us" {
			t.Fatalf("the failover: status %d, live %s", res.StatusCode, live())
		}
		es := events("failover.succeeded", "bob")
		if len(es) != 1 || !strings.Contains(string(es[0].Detail), `eu \u003cdown\u003e`) {
			t.Fatalf("failover events by bob: %+v", es)
		}
		res, _ = b.post("/groups/shop/switch", url.Values{"csrf": {b.csrf()}, "to": {"staging"}, "kind": {"failover"}, "reason": {"x"}})
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("a failover to a non-member: status %d, want 400", res.StatusCode)
		}
	})
}
