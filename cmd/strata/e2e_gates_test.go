package main_test

// End-to-end tests of issue 13 point 8: deploy and rollback ask plan for their gates, as a
// promotion does; a rollback follows the freeze and the deploy windows unless overridden.

import (
	"fmt"
	"strings"
	"testing"
)

func TestARollbackIntoAFrozenEnvironmentIsExit3UntilOverriddenWithAReason(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(policyEstate, "@POLICY@", "{}", 1))
	e.release("api", "--version", "1")
	e.release("api", "--version", "2")
	e.deploy(0, "api@2", "--env", "prod")
	e.must(0, "freeze", "prod", "--reason", "incident 42", "--as", "cy")

	before, events := e.storeSum(), e.auditCount()
	r := e.must(3, "rollback", "api", "--env", "prod", "--to", "1")
	for _, want := range []string{"gate freeze", "prod is frozen by cy (incident 42)", "strata unfreeze prod", "--override-freeze --reason"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the blocked rollback should say %q:\n%s", want, r)
		}
	}
	if r := e.must(2, "rollback", "api", "--env", "prod", "--to", "1", "--override-freeze"); !strings.Contains(r.stderr, "--override-freeze needs --reason") {
		t.Errorf("an override without a reason should ask for one:\n%s", r)
	}
	if e.storeSum() != before || e.auditCount() != events || e.versions("api-prod") != "2" {
		t.Fatal("a refused rollback changed the store, the audit log or prod")
	}

	var d deployment
	jsonDoc(t, e.must(0, "rollback", "api", "--env", "prod", "--to", "1", "--override-freeze", "--reason", "INC-42: 2 corrupts carts", "--as", "root", "-o", "json"), &d)
	if d.State != "succeeded" || d.Kind != "rollback" || d.Version != "1" || e.versions("api-prod") != "2 1" {
		t.Fatalf("the overridden rollback: %+v; prod saw %q", d, e.read("api-prod"))
	}
	var evs []struct {
		Actor  string         `json:"actor"`
		Detail map[string]any `json:"detail"`
	}
	jsonDoc(t, e.must(0, "audit", "-o", "json", "--action", "rollback"), &evs)
	if len(evs) != 1 || evs[0].Actor != "root" || evs[0].Detail["override_freeze"] != true || evs[0].Detail["reason"] != "INC-42: 2 corrupts carts" {
		t.Errorf("the rollback's audit event should record who overrode the freeze and why: %+v", evs)
	}
}

func TestARollbackOutsideItsDeployWindowsIsExit3UntilAnAdminOverridesThem(t *testing.T) {
	t.Parallel()
	spec, opens := closedWindow()
	e := newEstate(t, strings.Replace(policyEstate, "@POLICY@", "{}", 1))
	e.release("api", "--version", "1")
	e.release("api", "--version", "2")
	e.deploy(0, "api@1", "--env", "prod")
	e.deploy(0, "api@2", "--env", "prod")
	// The window closes on prod after both deploys.
	e.write("strata.yaml", strings.Replace(strings.Replace(policyEstate, "@POLICY@", fmt.Sprintf("{windows: [%q]}", spec), 1), "@SCRATCH@", e.scratch, -1))

	r := e.must(3, "rollback", "api", "--env", "prod")
	for _, want := range []string{"gate window", "prod is outside its deploy windows until " + opens.Format("2006-01-02T15:04:05Z07:00"), "--override-window --reason"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the blocked rollback should say %q:\n%s", want, r)
		}
	}
	d := e.must(0, "rollback", "api", "--env", "prod", "--override-window", "--reason", "INC-7", "-o", "json")
	var doc deployment
	jsonDoc(t, d, &doc)
	if doc.Version != "1" || e.versions("api-prod") != "1 2 1" {
		t.Errorf("the overridden rollback: %+v; prod saw %q", doc, e.read("api-prod"))
	}
}
