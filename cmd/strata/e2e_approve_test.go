package main_test

import (
	"strings"
	"testing"
)

func TestApprovingTwiceAsTheSamePrincipalIsExit2AndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(policyEstate, "@POLICY@", "{approvals: 2}", 1))
	e.release("api", "--version", "1")
	p := e.promote(3, "promote", "api@1", "--as", "alice")
	if once := e.promote(3, "approve", p.ID, "--as", "bob"); once.State != "waiting" || !strings.Contains(once.gate("approvals").Detail, "1 of 2") {
		t.Fatalf("one approval of two: %+v", once)
	}
	before, events := e.storeSum(), e.auditCount()
	if r := e.must(2, "approve", p.ID, "--as", "bob"); !strings.Contains(r.stderr, "bob has approved promotion "+p.ID+" already") {
		t.Errorf("the second approval by bob should say so:\n%s", r)
	}
	if n := e.auditCount(); n != events {
		t.Errorf("the refused approval changed the audit log: %d events, then %d", events, n)
	}
	if after := e.storeSum(); after != before {
		t.Error("the refused approval changed the store's files")
	}
	if done := e.promote(0, "approve", p.ID, "--as", "carol"); done.State != "succeeded" || e.versions("api-prod") != "1" {
		t.Errorf("a second principal's approval: %+v; api-prod %q", done, e.read("api-prod"))
	}
}
