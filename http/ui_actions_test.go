package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// current returns the version of service whose newest deployment in env succeeded.
func current(t *testing.T, x *uiEstate, service, env string) string {
	t.Helper()
	ds, err := x.store.Deployments(context.Background(), strata.DeploymentFilter{Service: service, Environment: env, Latest: true})
	if err != nil || len(ds) != 1 {
		t.Fatalf("newest deployment of %s in %s: %v, %v", service, env, ds, err)
	}
	return ds[0].Version + " " + ds[0].State
}

func TestPromotingAndRollingBackFromTheDashboard(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	ctx := context.Background()
	for _, v := range []string{"1.0", "2.0"} {
		if _, err := x.as("alice").Release(ctx, "api", v); err != nil {
			t.Fatal(err)
		}
	}
	events := func(action, actor string) []*strata.Event {
		t.Helper()
		es, err := x.store.Events(ctx, strata.EventFilter{Action: action, Actor: actor})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}

	t.Run("a viewer sees neither a promote form nor rollback buttons, and cannot post them", func(t *testing.T) {
		b := x.login(t, "victor")
		_, rel := b.get("/releases/api/1.0")
		_, env := b.get("/environments/dev")
		if strings.Contains(rel, `id="promote"`) || strings.Contains(env, `data-rollback=`) {
			t.Fatalf("the viewer is offered actions:\n%s\n%s", rel, env)
		}
		res, _ := b.post("/releases/api/1.0/promote", url.Values{"csrf": {b.csrf()}, "stage": {"staging"}, "confirm": {"1"}})
		if res.StatusCode != http.StatusForbidden || current(t, x, "api", "staging") != "2.0 succeeded" {
			t.Fatalf("a viewer's promote: status %d, staging runs %s", res.StatusCode, current(t, x, "api", "staging"))
		}
		res, _ = b.post("/environments/dev/rollback", url.Values{"csrf": {b.csrf()}, "service": {"api"}, "confirm": {"1"}})
		if res.StatusCode != http.StatusForbidden || current(t, x, "api", "dev") != "2.0 succeeded" {
			t.Fatalf("a viewer's rollback: status %d", res.StatusCode)
		}
	})

	t.Run("a deployer's promote shows the plan first, changing nothing, then promotes as that principal", func(t *testing.T) {
		b := x.login(t, "alice")
		_, rel := b.get("/releases/api/1.0")
		if !strings.Contains(rel, `id="promote"`) || !strings.Contains(rel, `<option value="staging">`) {
			t.Fatalf("the deployer has no promote form:\n%s", rel)
		}
		res, page := b.post("/releases/api/1.0/promote", url.Values{"csrf": {b.csrf()}, "stage": {"staging"}})
		if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="plan-envs"`) || !strings.Contains(page, `<td>staging</td><td>2.0</td>`) ||
			!strings.Contains(page, `name="confirm" value="1"`) {
			t.Fatalf("the plan page (%d):\n%s", res.StatusCode, page)
		}
		if len(events("promote", "alice")) != 0 || current(t, x, "api", "staging") != "2.0 succeeded" {
			t.Fatal("showing the plan promoted")
		}
		res, _ = b.post("/releases/api/1.0/promote", url.Values{"csrf": {b.csrf()}, "stage": {"staging"}, "confirm": {"1"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/releases/api/1.0" {
			t.Fatalf("confirming: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if got := current(t, x, "api", "staging"); got != "1.0 succeeded" {
			t.Fatalf("staging runs %s after the promote, want 1.0", got)
		}
		if es := events("promote", "alice"); len(es) != 1 || es[0].Service != "api" {
			t.Fatalf("promote events by alice: %+v", es)
		}
		_, rel = b.get("/releases/api/1.0")
		if !strings.Contains(rel, "Promoted api@1.0 to staging") {
			t.Fatalf("no flash on the release page:\n%s", rel)
		}
	})

	t.Run("a promotion that waits on an approval is said to wait, not shown as an error", func(t *testing.T) {
		b := x.login(t, "alice")
		_, page := b.post("/releases/api/2.0/promote", url.Values{"csrf": {b.csrf()}, "stage": {"prod"}})
		if !strings.Contains(page, `data-gate="approvals"`) {
			t.Fatalf("the plan does not show the approvals gate:\n%s", page)
		}
		res, _ := b.post("/releases/api/2.0/promote", url.Values{"csrf": {b.csrf()}, "stage": {"prod"}, "confirm": {"1"}})
		_, rel := b.get("/releases/api/2.0")
		if res.StatusCode != http.StatusSeeOther || !strings.Contains(rel, "to prod waits") || strings.Contains(rel, "flash error") {
			t.Fatalf("after promoting to prod (%d):\n%s", res.StatusCode, rel)
		}
	})

	t.Run("a forged CSRF token promotes and rolls back nothing", func(t *testing.T) {
		b := x.login(t, "alice")
		before := len(events("", ""))
		r1, _ := b.post("/releases/api/2.0/promote", url.Values{"csrf": {"forged"}, "stage": {"staging"}, "confirm": {"1"}})
		r2, _ := b.post("/environments/dev/rollback", url.Values{"csrf": {"forged"}, "service": {"api"}, "to": {"1.0"}, "confirm": {"1"}})
		if r1.StatusCode != http.StatusForbidden || r2.StatusCode != http.StatusForbidden || len(events("", "")) != before {
			t.Fatalf("forged forms: %d %d, events %d -> %d", r1.StatusCode, r2.StatusCode, before, len(events("", "")))
		}
	})

	t.Run("a rollback without a reason is refused and changes nothing", func(t *testing.T) {
		b := x.login(t, "alice")
		res, _ := b.post("/environments/dev/rollback", url.Values{"csrf": {b.csrf()}, "service": {"api"}, "to": {"1.0"}, "confirm": {"1"}, "reason": {"  "}})
		_, env := b.get("/environments/dev")
		if res.StatusCode != http.StatusSeeOther || current(t, x, "api", "dev") != "2.0 succeeded" || !strings.Contains(env, "say why") {
			t.Fatalf("a rollback without a reason: %d, dev runs %s", res.StatusCode, current(t, x, "api", "dev"))
		}
	})

	t.Run("a rollback names the version it goes back to, asks why, then redeploys it", func(t *testing.T) {
		b := x.login(t, "alice")
		_, env := b.get("/environments/dev")
		if !strings.Contains(env, `data-rollback="api"`) {
			t.Fatalf("no rollback button for api:\n%s", env)
		}
		_, page := b.post("/environments/dev/rollback", url.Values{"csrf": {b.csrf()}, "service": {"api"}})
		if !strings.Contains(page, `id="rollback-plan"`) || !strings.Contains(page, "runs <b>2.0</b> in dev; the rollback redeploys <b>1.0</b>") ||
			!strings.Contains(page, `name="reason" id="reason"`) {
			t.Fatalf("the rollback's confirmation:\n%s", page)
		}
		if current(t, x, "api", "dev") != "2.0 succeeded" {
			t.Fatal("asking to confirm rolled back")
		}
		why := `bad <b>build</b> & "more"`
		res, _ := b.post("/environments/dev/rollback", url.Values{"csrf": {b.csrf()}, "service": {"api"}, "to": {"1.0"}, "confirm": {"1"}, "reason": {why}})
		if res.StatusCode != http.StatusSeeOther || current(t, x, "api", "dev") != "1.0 succeeded" {
			t.Fatalf("after confirming: %d, dev runs %s", res.StatusCode, current(t, x, "api", "dev"))
		}
		ds, _ := x.store.Deployments(ctx, strata.DeploymentFilter{Service: "api", Environment: "dev", Latest: true})
		if ds[0].Kind != "rollback" || ds[0].Actor != "alice" {
			t.Fatalf("the rollback's deployment: kind %q by %q", ds[0].Kind, ds[0].Actor)
		}
		es := events("rollback", "alice")
		var detail struct{ Reason string }
		if len(es) != 1 || json.Unmarshal(es[0].Detail, &detail) != nil || detail.Reason != why {
			t.Fatalf("alice's rollback events %+v, want one with the reason %q as `strata rollback --reason` records it", es, why)
		}
	})
}

// windowYAML is an estate whose prod is open on Mondays 09:00-10:00 UTC only.
const windowYAML = `project: shop
environments:
  dev:
    labels: {tier: dev}
  prod:
    labels: {tier: prod}
    policy: {windows: ["Mon 09:00-10:00 UTC"]}
services:
  api:
    deploy: "echo up"
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: prod
    environments: [prod]
`

func TestAnAdminMayOverrideAClosedWindowFromThePromoteFormWithAReason(t *testing.T) {
	x := newUIEstate(t, windowYAML)
	wednesday := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	x.engine.Now = func() time.Time { return wednesday }
	ctx := context.Background()
	if _, err := x.as("alice").Release(ctx, "api", "1.0"); err != nil {
		t.Fatal(err)
	}
	ask := url.Values{"stage": {"prod"}}
	confirm := func(b *browser, override, reason string) *http.Response {
		res, _ := b.post("/releases/api/1.0/promote", url.Values{"csrf": {b.csrf()}, "stage": {"prod"}, "confirm": {"1"}, "override_window": {override}, "reason": {reason}})
		return res
	}
	steps := []struct {
		name        string
		who         string
		override    string
		reason      string
		wantOffered bool
		wantStatus  int
		wantRuns    bool
	}{
		{"a deployer is not offered the override and may not post it", "alice", "1", "because", false, http.StatusForbidden, false},
		{"an admin is offered it, and an override without a reason is refused", "carol", "1", " ", true, http.StatusSeeOther, false},
		{"an admin overrides with a reason and the release runs in prod", "carol", "1", "hotfix <42>", true, http.StatusSeeOther, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			b := x.login(t, s.who)
			ask.Set("csrf", b.csrf())
			_, page := b.post("/releases/api/1.0/promote", ask)
			if got := strings.Contains(page, `id="override-window"`); got != s.wantOffered {
				t.Fatalf("the plan offers the override: %v, want %v\n%s", got, s.wantOffered, page)
			}
			if res := confirm(b, s.override, s.reason); res.StatusCode != s.wantStatus {
				t.Fatalf("confirming: %d, want %d", res.StatusCode, s.wantStatus)
			}
			ds, _ := x.store.Deployments(ctx, strata.DeploymentFilter{Service: "api", Environment: "prod"})
			if got := len(ds) > 0 && ds[0].State == strata.Succeeded; got != s.wantRuns {
				t.Fatalf("api runs in prod: %v, want %v", got, s.wantRuns)
			}
		})
	}
	es, err := x.store.Events(ctx, strata.EventFilter{Action: "promote", Actor: "carol"})
	var detail struct {
		Override bool `json:"override_window"`
		Reason   string
	}
	if err != nil || len(es) != 1 || json.Unmarshal(es[0].Detail, &detail) != nil || !detail.Override || detail.Reason != "hotfix <42>" {
		t.Fatalf("carol's override events: %+v, %v; want one with her reason, as `strata promote --override-window --reason` records it", es, err)
	}
}
