package http_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/report"
)

// controlStrings are strings that broke documents, terminals or readers when stored: a NUL (it
// made every later audit answer a 200 with an empty body), an escape sequence that clears a
// terminal, a right-to-left override and a carriage return. (Bytes that are not UTF-8
// cannot come through the API: JSON decoding reads them as U+FFFD.)
var controlStrings = []struct{ name, s string }{
	{"a NUL", "stop\x00here"},
	{"an escape sequence", "ok\x1b[2J\x1b]0;owned\a"},
	{"a right-to-left override", "fine\u202Eenif"},
	{"a carriage return", "line\rover"},
}

// TestControlCharactersAreRefusedWhereTheyComeIn: every free-text field of the API refuses
// control characters with a 400 naming the field, and nothing is written; text that is only
// unusual (quotes, tabs, newlines, shell syntax, other scripts) is kept byte for byte, and
// the audit log stays one readable document throughout.
func TestControlCharactersAreRefusedWhereTheyComeIn(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	promo := x.shipToProd("1.0.0", "alice")
	events := func() int {
		t.Helper()
		evs, err := x.store.Events(context.Background(), strata.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	type request struct {
		name, who, method, path string
		body                    func(s string) any
		field                   string
	}
	requests := []request{
		{"a freeze reason", "carol", "POST", "/api/v1/freezes", func(s string) any { return map[string]any{"env": "dev", "reason": s} }, "--reason"},
		{"a reject reason", "bob", "POST", "/api/v1/promotions/" + promo + "/reject", func(s string) any { return map[string]any{"reason": s} }, "--reason"},
		{"an override reason", "carol", "POST", "/api/v1/promotions", func(s string) any {
			return map[string]any{"service": "api", "version": "1.0.0", "to": "prod", "override_window": true, "reason": s}
		}, "--reason"},
		{"a label value of a new environment", "alice", "POST", "/api/v1/environments", func(s string) any {
			return map[string]any{"name": "pr-7", "like": "dev", "labels": map[string]string{"owner": s}}
		}, "--label owner"},
		{"a release version", "alice", "POST", "/api/v1/releases", func(s string) any { return map[string]any{"service": "api", "version": s} }, "--version"},
	}
	for _, rq := range requests {
		for _, h := range controlStrings {
			t.Run(rq.name+" with "+h.name+" is refused", func(t *testing.T) {
				before := events()
				r := x.do(rq.who, rq.method, rq.path, rq.body(h.s))
				if r.status != 400 || r.header.Get(strhttp.ExitHeader) != "2" || r.header.Get(strhttp.ErrorCodeHeader) != strata.EINVALID {
					t.Fatalf("status %d exit %q code %q, want 400, 2 and invalid: %s", r.status, r.header.Get(strhttp.ExitHeader), r.header.Get(strhttp.ErrorCodeHeader), r.body)
				}
				msg, _ := r.json(t)["error"].(map[string]any)["message"].(string)
				if !strings.Contains(msg, rq.field) {
					t.Errorf("message %q does not name %s", msg, rq.field)
				}
				if got, want := events(), before; got != want {
					t.Errorf("%d audit events after the refusal, want %d: something was written", got, want)
				}
			})
		}
	}
	t.Run("a newline a line-only field refuses is named too", func(t *testing.T) {
		r := x.do("alice", "POST", "/api/v1/environments", map[string]any{"name": "pr-8", "like": "dev", "labels": map[string]string{"owner": "a\nb"}})
		if r.status != 400 || !strings.Contains(r.body, "U+000A (newline") {
			t.Fatalf("status %d, want 400 naming the newline: %s", r.status, r.body)
		}
	})
	if fr, err := x.store.Freezes(context.Background()); err != nil || len(fr) != 0 {
		t.Fatalf("freezes %v (%v) after refused freezes, want none", fr, err)
	}

	odd := "incident \"42\"\n\tsee ${config.X} $(id) `id` \\x00 — 障害 🚒"
	t.Run("unusual but printable text is kept byte for byte", func(t *testing.T) {
		if r := x.do("carol", "POST", "/api/v1/freezes", map[string]any{"env": "dev", "reason": odd}); r.status != 200 {
			t.Fatalf("freeze: %d %s", r.status, r.body)
		}
		r := x.do("victor", "GET", "/api/v1/audit?action=freeze", nil)
		var evs []struct {
			Detail struct{ Reason string } `json:"detail"`
		}
		if err := json.Unmarshal([]byte(r.body), &evs); err != nil || len(evs) != 1 {
			t.Fatalf("audit: %d %v\n%s", r.status, err, r.body)
		}
		if got, want := evs[0].Detail.Reason, odd; got != want {
			t.Errorf("reason in the audit log %q, want %q", got, want)
		}
	})
	t.Run("the whole audit log is one document and its chain holds", func(t *testing.T) {
		r := x.do("carol", "GET", "/api/v1/audit", nil)
		var evs []map[string]any
		if err := json.Unmarshal([]byte(r.body), &evs); r.status != 200 || err != nil || len(evs) == 0 {
			t.Fatalf("audit: status %d, %v\n%s", r.status, err, r.body)
		}
		r = x.do("carol", "GET", "/api/v1/audit?verify=1", nil)
		if r.status != 200 || r.json(t)["ok"] != true {
			t.Fatalf("verify: %d %s", r.status, r.body)
		}
	})
}

// TestAnAuditLogWrittenBeforeTheTextRuleStillReads: an event whose detail is not JSON (what
// an older freeze wrote for a reason with a NUL) and an actor with an escape sequence are
// in the store; the audit log is still a 200 with a whole document, the client reads it
// back as it was stored, and the chain still verifies.
func TestAnAuditLogWrittenBeforeTheTextRuleStillReads(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	old := []*strata.Event{
		// Go's %q of "stop\x00here", as `freeze` used to build the detail.
		{Actor: "carol", Action: "freeze", Environment: "dev", Detail: json.RawMessage(`{"reason":"stop\x00here"}`)},
		{Actor: "carol", Action: "freeze", Environment: "staging", Detail: json.RawMessage("{\"reason\":\"raw\x00nul\"}")},
		{Actor: "evil\x1b[2J", Action: "unfreeze", Environment: "dev"},
	}
	for _, e := range old {
		if err := x.store.AppendEvent(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	r := x.do("victor", "GET", "/api/v1/audit", nil)
	if r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	var evs []map[string]any
	if err := json.Unmarshal([]byte(r.body), &evs); err != nil {
		t.Fatalf("the audit log is not one JSON document: %v\n%q", err, r.body)
	}
	raw := map[string]bool{}
	for _, e := range evs {
		if s, ok := e["detail_raw"].(string); ok {
			raw[s] = true
		}
	}
	for _, e := range old[:2] {
		if !raw[string(e.Detail)] {
			t.Errorf("no event has detail_raw %q: %s", e.Detail, r.body)
		}
	}

	c, err := strhttp.NewClient(x.url, x.tokens["victor"])
	if err != nil {
		t.Fatal(err)
	}
	log, err := strhttp.Run(context.Background(), c, command.Audit, report.AuditRequest{Action: "freeze"})
	got := log.Events
	if err != nil {
		t.Fatalf("client audit: %v", err)
	}
	if len(got) != 2 || string(got[0].Detail) != string(old[0].Detail) || string(got[1].Detail) != string(old[1].Detail) {
		t.Errorf("the client read back %d events, want 2 with the stored details %q and %q", len(got), old[0].Detail, old[1].Detail)
	}
	r = x.do("carol", "GET", "/api/v1/audit?"+url.Values{"verify": {"1"}}.Encode(), nil)
	if r.status != 200 || r.json(t)["ok"] != true {
		t.Errorf("verify: %d %s", r.status, r.body)
	}
}

// TestTheDashboardRefusesAReasonWithControlCharacters: the reject form holds to the same
// rule: the page says why, and the promotion still waits.
func TestTheDashboardRefusesAReasonWithControlCharacters(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	p := x.shipToProd(t)
	b := x.login(t, "carol")
	for _, c := range controlStrings {
		t.Run("a reason with "+c.name+" is not taken", func(t *testing.T) {
			b.t = t
			b.post("/promotions/"+p.ID+"/reject", url.Values{"csrf": {b.csrf()}, "reason": {c.s}})
			_, page := b.get("/releases/api/1.0.0")
			if !strings.Contains(page, "Not rejected: --reason: character") {
				t.Errorf("the page does not say why:\n%s", page)
			}
			got, err := x.store.Promotion(context.Background(), p.ID)
			if err != nil || got.State != strata.Waiting {
				t.Fatalf("promotion %+v (%v), want it still waiting", got, err)
			}
		})
	}
}
