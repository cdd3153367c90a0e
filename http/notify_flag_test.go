package http_test

import (
	"strings"
	"testing"

	strhttp "github.com/strata-dev/strata/http"
)

func TestAFlagChangeIsAnnouncedFromItsAuditEvent(t *testing.T) {
	rc := newReceiver(t, 0, 0)
	x := newAPIEstate(t, withNotify(rc.srv.URL+"/hook", "flag")+"flags:\n  checkout: {type: boolean, default: false}\n")
	if r := x.do("alice", "POST", "/api/v1/flags/checkout/set", map[string]any{"env": "staging", "value": "true", "reason": "beta"}); r.status != 200 {
		t.Fatalf("set: %d %s", r.status, r.body)
	}
	if r := x.do("alice", "POST", "/api/v1/flags/checkout/kill", map[string]any{"env": "staging", "reason": "errors up"}); r.status != 200 {
		t.Fatalf("kill: %d %s", r.status, r.body)
	}
	if r := x.do("alice", "POST", "/api/v1/flags/checkout/set", map[string]any{"env": "staging", "value": "maybe", "reason": "typo"}); r.status != 400 {
		t.Fatalf("a bad set: %d %s, want 400", r.status, r.body)
	}
	var got []strhttp.Webhook
	waitFor(t, "both flag events arrived", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		got = append(got[:0], rc.got...)
		return len(got) >= 2
	})
	set, kill := got[0], got[1]
	if set.State == "kill" {
		set, kill = kill, set
	}
	if set.Event != "flag" || set.Flag != "checkout" || set.Environment != "staging" || set.Actor != "alice" || set.Value != true || set.State != "set" {
		t.Errorf("the set's webhook = %+v", set)
	}
	if kill.State != "kill" || kill.Actor != "alice" || kill.Detail != "errors up" || !strings.Contains(kill.Text, "killed flag checkout in staging") {
		t.Errorf("the kill's webhook = %+v", kill)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 2 {
		t.Errorf("%d webhooks, want 2 (a refused change announces nothing)", len(rc.got))
	}
}
