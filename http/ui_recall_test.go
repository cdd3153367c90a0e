package http_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

func TestRecallingAndUnrecallingFromTheDashboard(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	ctx := context.Background()
	for _, v := range []string{"1.0", "2.0"} {
		if _, err := x.as("alice").Release(ctx, "api", v); err != nil {
			t.Fatal(err)
		}
	}
	recalled := func() *strata.Recall {
		t.Helper()
		rel, err := x.store.Release(ctx, "api", "2.0")
		if err != nil {
			t.Fatal(err)
		}
		return rel.Recalled
	}

	t.Run("a viewer is offered no recall and cannot post one", func(t *testing.T) {
		b := x.login(t, "victor")
		if _, page := b.get("/releases/api/2.0"); strings.Contains(page, `id="recall"`) {
			t.Fatalf("the viewer is offered a recall:\n%s", page)
		}
		res, _ := b.post("/releases/api/2.0/recall", url.Values{"csrf": {b.csrf()}, "reason": {"bad"}})
		if res.StatusCode != http.StatusForbidden || recalled() != nil {
			t.Fatalf("a viewer's recall: status %d, recalled %+v", res.StatusCode, recalled())
		}
	})

	t.Run("a post without the session's CSRF token changes nothing", func(t *testing.T) {
		b := x.login(t, "alice")
		res, _ := b.post("/releases/api/2.0/recall", url.Values{"reason": {"bad"}, "rollback": {"1"}})
		if res.StatusCode == http.StatusSeeOther || recalled() != nil {
			t.Fatalf("a recall without CSRF: status %d, recalled %+v", res.StatusCode, recalled())
		}
	})

	t.Run("a deployer recalls with rollback; the pages mark it and offer no promote", func(t *testing.T) {
		b := x.login(t, "alice")
		_, page := b.get("/releases/api/2.0")
		if !strings.Contains(page, `id="recall"`) {
			t.Fatalf("the deployer is offered no recall:\n%s", page)
		}
		hostile := `<script>alert("x")</script>`
		res, _ := b.post("/releases/api/2.0/recall", url.Values{"csrf": {b.csrf()}, "reason": {hostile}, "rollback": {"1"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/releases/api/2.0" {
			t.Fatalf("recall: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if r := recalled(); r == nil || r.By != "alice" || r.Reason != hostile {
			t.Fatalf("recalled %+v, want alice's with the reason as given", r)
		}
		for _, env := range []string{"dev", "staging"} {
			if got := current(t, x, "api", env); got != "1.0 succeeded" {
				t.Errorf("%s runs %s after the recall with rollback, want 1.0", env, got)
			}
		}
		_, page = b.get("/releases/api/2.0")
		if !strings.Contains(page, `id="recalled"`) || !strings.Contains(page, "Recalled by alice") || strings.Contains(page, hostile) ||
			strings.Contains(page, `id="promote"`) || strings.Contains(page, `id="unrecall"`) {
			t.Fatalf("the release page after the recall:\n%s", page)
		}
		if _, svc := b.get("/services/api"); !strings.Contains(svc, `class="state st-failed recalled"`) {
			t.Fatalf("the service page does not mark the recall:\n%s", svc)
		}
	})

	t.Run("an approver lifts the recall with a reason", func(t *testing.T) {
		b := x.login(t, "bob")
		_, page := b.get("/releases/api/2.0")
		if !strings.Contains(page, `id="unrecall"`) || strings.Contains(page, `id="recall"`) {
			t.Fatalf("the approver's release page:\n%s", page)
		}
		res, _ := b.post("/releases/api/2.0/unrecall", url.Values{"csrf": {b.csrf()}, "reason": {"fixed"}})
		if res.StatusCode != http.StatusSeeOther || recalled() != nil {
			t.Fatalf("unrecall: status %d, recalled %+v", res.StatusCode, recalled())
		}
		es, err := x.store.Events(ctx, strata.EventFilter{Action: "unrecall", Actor: "bob"})
		if err != nil || len(es) != 1 {
			t.Fatalf("unrecall events by bob: %+v (%v)", es, err)
		}
	})

	t.Run("an approver who covers only some environments may not lift a recall", func(t *testing.T) {
		if _, err := x.as("carol").Recall(ctx, engine.RecallRequest{Service: "api", Version: "2.0", Reason: "again"}); err != nil {
			t.Fatal(err)
		}
		b := x.login(t, "eve")
		if _, page := b.get("/releases/api/2.0"); strings.Contains(page, `id="unrecall"`) {
			t.Fatalf("a scoped approver is offered an unrecall:\n%s", page)
		}
		res, _ := b.post("/releases/api/2.0/unrecall", url.Values{"csrf": {b.csrf()}, "reason": {"x"}})
		if res.StatusCode != http.StatusForbidden || recalled() == nil {
			t.Fatalf("a scoped approver's unrecall: status %d", res.StatusCode)
		}
	})
}
