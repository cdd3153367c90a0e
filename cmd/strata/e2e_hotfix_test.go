package main_test

// End-to-end tests of issue 13 point 6: hotfixes through the front door. `promote --only`
// promotes into part of a stage with the stage's gates; `deploy` to an environment whose
// policy needs approvals opens a one-environment promotion that runs on approval.

import (
	"slices"
	"strings"
	"testing"
)

// hotfixEstate is dev (auto), then prod-us and prod-eu behind one approval, and lab, in no
// stage, behind one approval too.
const hotfixEstate = `project: hot
environments:
  dev: {}
  prod-us:
    labels: {tier: prod}
    policy: {approvals: 1}
  prod-eu:
    extends: prod-us
  lab:
    policy: {approvals: 1}
services:
  api:
    deploy: echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"
pipeline:
  - {stage: dev, environments: [dev], auto: true}
  - {stage: prod, environments: {tier: prod}, waves: 1}
`

// onlyDoc is what a promotion's JSON says of the environments it is narrowed to.
type onlyDoc struct {
	promotionDoc
	Only []string `json:"only"`
}

func TestPromoteOnlyGoesIntoPartOfAStageWithTheStagesGates(t *testing.T) {
	t.Parallel()
	e := newEstate(t, hotfixEstate)
	e.release("api", "--version", "1")

	var p onlyDoc
	jsonDoc(t, e.must(3, "promote", "api@1", "--to", "prod", "--only", "prod-eu", "--as", "alice", "-o", "json"), &p)
	if p.State != "waiting" || !slices.Equal(p.Only, []string{"prod-eu"}) || len(p.Waves) != 1 || !slices.Equal(p.Waves[0], []string{"prod-eu"}) {
		t.Fatalf("a promotion into prod-eu only: %+v", p)
	}
	if g := p.gate("approvals"); g.OK || !strings.Contains(g.Detail, "strata approve "+p.ID) {
		t.Errorf("the stage's approvals gate holds the hotfix: %+v", g)
	}
	var done onlyDoc
	jsonDoc(t, e.must(0, "approve", p.ID, "--as", "bob", "-o", "json"), &done)
	if done.State != "succeeded" || len(done.Deployments) != 1 || done.Deployments[0].Environment != "prod-eu" {
		t.Fatalf("the approved hotfix: %+v", done)
	}
	if e.versions("api-prod-eu") != "1" || e.read("api-prod-us") != "" {
		t.Errorf("prod-eu saw %q and prod-us %q; want the hotfix in prod-eu alone", e.read("api-prod-eu"), e.read("api-prod-us"))
	}
	var shown onlyDoc
	jsonDoc(t, e.must(3, "promote", "api@1", "--to", "prod", "--only", "prod-eu", "--only", "prod-us", "--as", "alice", "-o", "json"), &shown)
	if !slices.Equal(shown.Only, []string{"prod-us", "prod-eu"}) || shown.ID == p.ID {
		t.Errorf("--only twice is a new promotion of both, in the stage's order: %+v", shown)
	}
}

func TestPromoteOnlyAnEnvironmentOutsideTheStageIsExit2NamingTheFlagAndTheStage(t *testing.T) {
	t.Parallel()
	e := newEstate(t, hotfixEstate)
	e.release("api", "--version", "1")
	before, events := e.storeSum(), e.auditCount()
	for _, args := range [][]string{
		{"promote", "api@1", "--to", "prod", "--only", "lab"},
		{"promote", "api@1", "--to", "prod", "--only", "prod-us", "--only", "nowhere"},
		{"plan", "api@1", "--to", "prod", "--only", "dev"},
	} {
		r := e.must(2, args...)
		if !strings.Contains(r.stderr, "--only") || !strings.Contains(r.stderr, "stage prod") || !strings.Contains(r.stderr, "prod-us, prod-eu") {
			t.Errorf("want the flag, the stage and its environments named:\n%s", r)
		}
	}
	if e.storeSum() != before || e.auditCount() != events {
		t.Error("a refused --only changed the store")
	}
}

func TestADeployThatNeedsApprovalsOpensAPromotionThatRunsOnApproval(t *testing.T) {
	t.Parallel()
	e := newEstate(t, hotfixEstate)
	e.release("api", "--version", "1")
	e.release("api", "--version", "2")

	for _, c := range []struct{ env, stage string }{{"prod-us", "prod"}, {"lab", "env:lab"}} {
		t.Run(c.env, func(t *testing.T) {
			e := e.with(t)
			var d struct {
				deployment
				Gates []gate `json:"gates"`
			}
			r := e.must(3, "deploy", "api@2", "--env", c.env, "--as", "alice", "-o", "json")
			jsonDoc(t, r, &d)
			if !strings.HasPrefix(d.ID, "p-") || d.Promotion != d.ID || d.State != "waiting" || d.Environment != c.env {
				t.Fatalf("deploy to %s should open a waiting promotion and give its id: %+v", c.env, d)
			}
			approvals := gate{}
			for _, g := range d.Gates {
				if g.Name == "approvals" {
					approvals = g
				}
			}
			if approvals.OK || !strings.Contains(approvals.Detail, "strata approve "+d.ID) {
				t.Errorf("the approvals gate should say how to open it: %+v", d.Gates)
			}
			if txt := e.must(3, "deploy", "api@2", "--env", c.env, "--as", "alice"); !strings.Contains(txt.stdout, d.ID) || !strings.Contains(txt.stdout, "approvals") {
				t.Errorf("asking again should show the same promotion and its gates:\n%s", txt)
			}
			var p onlyDoc
			jsonDoc(t, e.must(0, "approve", d.ID, "--as", "bob", "-o", "json"), &p)
			if p.Stage != c.stage || !slices.Equal(p.Only, []string{c.env}) || p.State != "succeeded" {
				t.Errorf("the approved promotion: %+v", p)
			}
			if e.versions("api-"+c.env) != "2" {
				t.Errorf("%s saw %q, want 2", c.env, e.read("api-"+c.env))
			}
		})
	}
	if e.read("api-prod-eu") != "" {
		t.Errorf("prod-eu saw %q; the deploys asked for prod-us and lab only", e.read("api-prod-eu"))
	}
	var ps []map[string]any
	jsonDoc(t, e.must(0, "audit", "-o", "json", "--action", "promote"), &ps)
	if len(ps) < 2 {
		t.Errorf("want the promotions the deploys opened in the audit log: %v", ps)
	}
}

func TestHotfixesAndGatedRollbacksPrintTheSameOnAServerAsLocally(t *testing.T) {
	t.Parallel()
	tw := newTwins(t, hotfixEstate)
	tw.same(t, "ann", "release", "api", "--version", "1")
	tw.same(t, "ann", "release", "api", "--version", "2")

	l, r := tw.same(t, "ann", "deploy", "api@2", "--env", "prod-us", "-o", "json")
	if l.code != 3 || !strings.Contains(l.stdout, `"gates"`) {
		t.Fatalf("a deploy needing approvals opens a promotion on both sides: %s", l)
	}
	var ld, rd deployment
	jsonDoc(t, l, &ld)
	jsonDoc(t, r, &rd)
	if a, b := tw.samePair(t, "bob", []string{"approve", ld.ID}, []string{"approve", rd.ID}); a.code != 0 || b.code != 0 {
		t.Fatalf("approving the opened promotion: %s\n%s", a, b)
	}
	if tw.local.versions("api-prod-us") != "2" || tw.remote.versions("api-prod-us") != "2" {
		t.Errorf("prod-us saw %q here and %q there", tw.local.read("api-prod-us"), tw.remote.read("api-prod-us"))
	}

	tw.same(t, "ann", "freeze", "dev", "--reason", "incident 9")
	if l, _ := tw.same(t, "ann", "rollback", "api", "--env", "dev"); l.code != 3 || !strings.Contains(l.stderr, "gate freeze") {
		t.Errorf("a rollback into frozen dev: %s", l)
	}
	// On the server an approver may not roll back even with an override: it needs deploy
	// and approve there (admin). Locally the principal is self-asserted.
	if _, re := tw.as(t, "bob"); re.must(4, "rollback", "api", "--env", "dev", "--override-freeze", "--reason", "x").code != 4 {
		t.Error("an approver's override")
	}
	if l, _ := tw.same(t, "ann", "rollback", "api", "--env", "dev", "--override-freeze", "--reason", "INC-9"); l.code != 0 || !strings.Contains(l.stdout, "api@1 in dev succeeded") {
		t.Errorf("an admin's override: %s", l)
	}
}
