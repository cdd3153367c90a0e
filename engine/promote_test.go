package engine_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// clock is a settable clock shared by the engines of one test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time       { return c.t }
func (c *clock) move(d time.Duration) { c.t = c.t.Add(d) }
func (c *clock) set(t time.Time)      { c.t = t }
func monday(hour, min int) time.Time  { return time.Date(2026, 11, 23, hour, min, 0, 0, time.UTC) }
func gate(gs []plan.Gate, name string) plan.Gate {
	for _, g := range gs {
		if g.Name == name {
			return g
		}
	}
	return plan.Gate{Name: name + " (missing)"}
}

// promoter returns an engine acting as actor on w, reading c.
func (w *world) promoter(c *clock, actor string) *engine.Engine {
	e := w.engine()
	e.Now, e.Actor = c.now, actor
	return e
}

// events counts the audit log's events.
func (w *world) events() int {
	w.t.Helper()
	evs, err := w.store.Events(w.t.Context(), strata.EventFilter{})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(evs)
}

// gatedEstate has one auto dev stage, then prod behind a soak, an approval and a window.
// Deploy steps append the version to the scratch file "api-ENV".
const gatedEstate = `project: shop
environments:
  dev: {}
  prod:
    policy:
      approvals: @APPROVALS@
      soak: 30m
      windows: ["Mon-Fri 09:00-17:00 UTC"]
services:
  api:
    deploy: echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: prod
    environments: [prod]
`

// gated releases api@1 into dev at 07:00 on a Monday, outside prod's window.
func gated(t *testing.T, approvals string) (*world, *clock) {
	return gatedAt(t, approvals, monday(7, 0))
}

// gatedAt releases api@1 into dev at the time given.
func gatedAt(t *testing.T, approvals string, at time.Time) (*world, *clock) {
	w := newWorld(t, strings.ReplaceAll(gatedEstate, "@APPROVALS@", approvals))
	c := &clock{t: at}
	if _, err := w.promoter(c, "alice").Release(t.Context(), "api", "1"); err != nil {
		t.Fatal(err)
	}
	if got := w.read("api-dev"); got != "1\n" {
		t.Fatalf("the release did not land in the auto stage dev: api-dev = %q", got)
	}
	return w, c
}

func TestWaitingPromotionsRunWhenTheirLastGateOpens(t *testing.T) {
	t.Run("every gate is judged and a closed one says what would open it", func(t *testing.T) {
		w, c := gated(t, "1")
		c.move(10 * time.Minute)
		res, err := w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
		if strata.ErrorCode(err) != strata.EBLOCKED {
			t.Fatalf("promote: err = %v, want blocked", err)
		}
		p := res.Promotion
		if p.ID == "" || p.State != strata.Waiting || p.Stage != "prod" || !strings.Contains(err.Error(), p.ID) {
			t.Fatalf("promotion = %+v (err %v), want a waiting promotion to prod whose id the error names", p, err)
		}
		var names []string
		for _, g := range res.Gates {
			names = append(names, g.Name)
		}
		if got, want := strings.Join(names, " "), "previous-stage soak approvals window freeze dependencies recall"; got != want {
			t.Errorf("gates = %s, want %s", got, want)
		}
		for _, c := range []struct{ gate, detail string }{
			{plan.GateSoak, "opens at 2026-11-23T07:30:00Z"},
			{plan.GateApprovals, "strata approve " + p.ID},
			{plan.GateWindow, "until 2026-11-23T09:00:00Z"},
		} {
			if g := gate(res.Gates, c.gate); g.OK || !strings.Contains(g.Detail, c.detail) {
				t.Errorf("gate %s = %+v, want closed, saying %q", c.gate, g, c.detail)
			}
		}
		if g := gate(res.Gates, plan.GatePrevious); !g.OK {
			t.Errorf("previous-stage gate closed: %+v", g)
		}
		if w.read("api-prod") != "" {
			t.Errorf("a waiting promotion deployed: api-prod = %q", w.read("api-prod"))
		}
	})

	t.Run("resume runs a promotion once the soak has passed and the window opened", func(t *testing.T) {
		w, c := gated(t, "0")
		res, err := w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
		if strata.ErrorCode(err) != strata.EBLOCKED {
			t.Fatalf("promote: %v", err)
		}
		id := res.Promotion.ID

		c.set(monday(8, 0)) // soak over, window still closed
		r, err := w.promoter(c, "scheduler").Resume(t.Context())
		if err != nil || len(r.Promotions) != 0 || w.read("api-prod") != "" {
			t.Fatalf("resume before the window opened: %+v, %v; api-prod = %q", r, err, w.read("api-prod"))
		}
		c.set(monday(9, 5))
		r, err = w.promoter(c, "scheduler").Resume(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Promotions) != 1 || r.Promotions[0].Promotion.ID != id || r.Promotions[0].Promotion.State != strata.Succeeded {
			t.Fatalf("resume in the window: promotions = %+v, want %s succeeded", r.Promotions, id)
		}
		if got := w.read("api-prod"); got != "1\n" {
			t.Errorf("api-prod = %q, want the release deployed once", got)
		}
	})

	t.Run("a soak still running keeps the promotion waiting through resume", func(t *testing.T) {
		w, c := gatedAt(t, "0", monday(9, 0))
		res, err := w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
		if strata.ErrorCode(err) != strata.EBLOCKED {
			t.Fatalf("promote inside the soak: %v, want blocked", err)
		}
		if closed := plan.Closed(res.Gates); len(closed) != 1 || closed[0].Name != plan.GateSoak {
			t.Fatalf("closed gates = %+v, want only the soak", closed)
		}
		c.set(monday(9, 20))
		if r, err := w.promoter(c, "scheduler").Resume(t.Context()); err != nil || len(r.Promotions) != 0 {
			t.Fatalf("resume inside the soak: %+v, %v", r, err)
		}
		c.set(monday(9, 31))
		if r, err := w.promoter(c, "scheduler").Resume(t.Context()); err != nil || len(r.Promotions) != 1 {
			t.Fatalf("resume after the soak: %+v, %v", r, err)
		}
		if got := w.read("api-prod"); got != "1\n" {
			t.Errorf("api-prod = %q, want the release deployed once", got)
		}
	})
}

func TestApprovals(t *testing.T) {
	w, c := gated(t, "2")
	c.set(monday(10, 0))
	res, err := w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
	if strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("promote: %v", err)
	}
	id := res.Promotion.ID

	refused := []struct {
		name, actor, code string
	}{
		{"the requester cannot approve their own promotion", "alice", strata.EINVALID},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			before := w.events()
			_, err := w.promoter(c, r.actor).Approve(t.Context(), id)
			if strata.ErrorCode(err) != r.code {
				t.Fatalf("approve: err = %v, want %s", err, r.code)
			}
			if after := w.events(); after != before {
				t.Errorf("the refused approval changed the audit log: %d events, then %d", before, after)
			}
		})
	}

	t.Run("one approval of two leaves it waiting", func(t *testing.T) {
		r, err := w.promoter(c, "bob").Approve(t.Context(), id)
		if strata.ErrorCode(err) != strata.EBLOCKED || r.Promotion.State != strata.Waiting {
			t.Fatalf("approve: %+v, %v; want still waiting", r, err)
		}
		if g := gate(r.Gates, plan.GateApprovals); g.OK || !strings.Contains(g.Detail, "1 of 2") {
			t.Errorf("approvals gate = %+v, want 1 of 2", g)
		}
	})

	t.Run("approving twice as the same principal is a conflict that changes nothing", func(t *testing.T) {
		before := w.events()
		_, err := w.promoter(c, "bob").Approve(t.Context(), id)
		if strata.ErrorCode(err) != strata.ECONFLICT {
			t.Fatalf("approve: err = %v, want conflict", err)
		}
		if after := w.events(); after != before {
			t.Errorf("audit log: %d events, then %d", before, after)
		}
	})

	t.Run("a second principal's approval opens the last gate and runs it", func(t *testing.T) {
		r, err := w.promoter(c, "carol").Approve(t.Context(), id)
		if err != nil || r.Promotion.State != strata.Succeeded {
			t.Fatalf("approve: %+v, %v", r, err)
		}
		if got := w.read("api-prod"); got != "1\n" {
			t.Errorf("api-prod = %q", got)
		}
	})

	t.Run("a promotion that is not waiting cannot be approved or rejected", func(t *testing.T) {
		before := w.events()
		if _, err := w.promoter(c, "dave").Approve(t.Context(), id); strata.ErrorCode(err) != strata.ECONFLICT {
			t.Errorf("approve: err = %v, want conflict", err)
		}
		if _, err := w.promoter(c, "dave").Reject(t.Context(), id, "late"); strata.ErrorCode(err) != strata.ECONFLICT {
			t.Errorf("reject: err = %v, want conflict", err)
		}
		if after := w.events(); after != before {
			t.Errorf("audit log: %d events, then %d", before, after)
		}
	})
}

func TestRejectClosesAWaitingPromotion(t *testing.T) {
	w, c := gated(t, "1")
	c.set(monday(10, 0))
	res, _ := w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
	if _, err := w.promoter(c, "bob").Reject(t.Context(), res.Promotion.ID, ""); strata.ErrorCode(err) != strata.EINVALID {
		t.Errorf("reject without a reason: %v, want invalid", err)
	}
	p, err := w.promoter(c, "bob").Reject(t.Context(), res.Promotion.ID, "not today")
	if err != nil || p.State != strata.Rejected {
		t.Fatalf("reject: %+v, %v", p, err)
	}
	if _, err := w.promoter(c, "carol").Approve(t.Context(), p.ID); strata.ErrorCode(err) != strata.ECONFLICT {
		t.Errorf("approving a rejected promotion: %v, want conflict", err)
	}
	if r, err := w.promoter(c, "scheduler").Resume(t.Context()); err != nil || len(r.Promotions) != 0 || w.read("api-prod") != "" {
		t.Errorf("resume ran a rejected promotion: %+v, %v", r, err)
	}
}

func TestOverridingTheWindowsOfAWaitingPromotion(t *testing.T) {
	w, c := gated(t, "0")
	c.set(monday(8, 0)) // soak over, window closed until 09:00
	res, err := w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
	if strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("promote: %v", err)
	}
	root := w.promoter(c, "root")
	if _, err := root.Promote(t.Context(), engine.PromoteRequest{Service: "api", OverrideWindow: true}); strata.ErrorCode(err) != strata.EINVALID {
		t.Errorf("an override without a reason: %v, want invalid", err)
	}
	got, err := root.Promote(t.Context(), engine.PromoteRequest{Service: "api", OverrideWindow: true, Reason: "INC-7"})
	if err != nil || got.Promotion.ID != res.Promotion.ID || got.Promotion.State != strata.Succeeded {
		t.Fatalf("override of the waiting promotion: %+v, %v; want %s succeeded", got, err, res.Promotion.ID)
	}
	if g := gate(got.Gates, plan.GateWindow); !g.OK || !strings.Contains(g.Detail, "INC-7") {
		t.Errorf("window gate = %+v, want overridden with the reason", g)
	}
	evs, err := w.store.Events(t.Context(), strata.EventFilter{Action: "override"})
	if err != nil || len(evs) != 1 || evs[0].Actor != "root" || !strings.Contains(string(evs[0].Detail), "INC-7") {
		t.Errorf("override events: %+v, %v; want one by root with the reason", evs, err)
	}
	if w.read("api-prod") != "1\n" {
		t.Errorf("api-prod = %q", w.read("api-prod"))
	}
}

func TestWorkersThatFindTheGatesOpenAtOnceRunAPromotionOnce(t *testing.T) {
	w, c := gated(t, "0")
	c.set(monday(8, 0))
	res, err := w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
	if strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("promote: %v", err)
	}
	c.set(monday(9, 30))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		e := w.promoter(c, fmt.Sprintf("worker-%d", i))
		wg.Go(func() { _, errs[i] = e.Advance(t.Context(), res.Promotion.ID) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	if got := w.read("api-prod"); got != "1\n" {
		t.Errorf("api-prod = %q, want one deployment", got)
	}
	if evs, _ := w.store.Events(t.Context(), strata.EventFilter{Action: "promotion.running"}); len(evs) != 1 {
		t.Errorf("%d promotion.running events, want 1", len(evs))
	}
}

func TestPromotingAgainRunsAWaitingPromotionWhoseGatesHaveOpened(t *testing.T) {
	w, c := gated(t, "0")
	c.set(monday(8, 0)) // soak over, window closed until 09:00
	res, err := w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
	if strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("promote: %v", err)
	}
	c.set(monday(8, 30))
	again, err := w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
	if strata.ErrorCode(err) != strata.EBLOCKED || again.Promotion.ID != res.Promotion.ID || gate(again.Gates, plan.GateWindow).OK {
		t.Fatalf("promote again, window still closed: %+v, %v; want %s waiting on the window", again, err, res.Promotion.ID)
	}
	c.set(monday(9, 30))
	again, err = w.promoter(c, "alice").Promote(t.Context(), engine.PromoteRequest{Service: "api"})
	if err != nil || again.Promotion.ID != res.Promotion.ID || again.Promotion.State != strata.Succeeded {
		t.Fatalf("promote again, every gate open: %+v, %v; want %s succeeded", again, err, res.Promotion.ID)
	}
	if got := w.read("api-prod"); got != "1\n" {
		t.Errorf("api-prod = %q, want one deployment", got)
	}
}
