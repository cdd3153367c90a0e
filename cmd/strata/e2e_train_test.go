package main_test

// End-to-end tests of issue 13 point 7: release trains. Several releases promoted as one:
// one id, one set of gates, one approval; in each wave the members deploy in dependency
// order, and a failure rolls back the train's deployments in that wave.

import (
	"slices"
	"strings"
	"testing"
)

// trainEstate is dev (auto), then prod-us and prod-eu one wave at a time, whose policy a test
// writes. web depends on schema. Each deploy appends the version to "SERVICE-ENV" and
// "SERVICE VERSION" to "order-ENV"; web fails where "sick-web-VERSION-ENV" exists.
const trainEstate = `project: train
environments:
  dev: {}
  prod-us:
    labels: {tier: prod}
    policy: @POLICY@
  prod-eu:
    extends: prod-us
services:
  schema:
    deploy: 'echo "$STRATA_VERSION" >> "@SCRATCH@/schema-$STRATA_ENV"; echo "schema $STRATA_VERSION" >> "@SCRATCH@/order-$STRATA_ENV"'
    rollback: previous
  web:
    deploy: 'test ! -e "@SCRATCH@/sick-web-$STRATA_VERSION-$STRATA_ENV" && echo "$STRATA_VERSION" >> "@SCRATCH@/web-$STRATA_ENV" && echo "web $STRATA_VERSION" >> "@SCRATCH@/order-$STRATA_ENV"'
    depends_on: [schema]
    rollback: previous
pipeline:
  - {stage: dev, environments: [dev], auto: true}
  - {stage: prod, environments: {tier: prod}, waves: 1}
`

// trainDoc is a promotion's JSON with its members.
type trainDoc struct {
	promotionDoc
	Members []struct {
		Service string `json:"service"`
		Version string `json:"version"`
	} `json:"members"`
}

func (d trainDoc) names() string {
	var s []string
	for _, m := range d.Members {
		s = append(s, m.Service+"@"+m.Version)
	}
	return strings.Join(s, " ")
}

func TestATrainOfTwoServicesIsOnePromotionWithOneApprovalInDependencyOrder(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(trainEstate, "@POLICY@", "{approvals: 1}", 1))
	e.release("schema", "--version", "8")
	e.release("web", "--version", "1.1.0")

	var pl trainDoc
	jsonDoc(t, e.must(0, "plan", "web@1.1.0", "schema@8", "--to", "prod", "-o", "json"), &pl)
	if pl.names() != "web@1.1.0 schema@8" || pl.Service != "web" || pl.Version != "1.1.0" || pl.gate("approvals").OK {
		t.Errorf("the plan of the train: %+v", pl)
	}
	var envs struct {
		Environments []struct{ Service, Version, Name string } `json:"environments"`
	}
	jsonDoc(t, e.must(0, "plan", "web@1.1.0", "schema@8", "--to", "prod", "-o", "json"), &envs)
	var order []string
	for _, ep := range envs.Environments {
		order = append(order, ep.Service+"@"+ep.Version+" "+ep.Name)
	}
	if want := []string{"schema@8 prod-us", "web@1.1.0 prod-us", "schema@8 prod-eu", "web@1.1.0 prod-eu"}; !slices.Equal(order, want) {
		t.Errorf("the plan's environments = %v; want %v", order, want)
	}
	var p trainDoc
	jsonDoc(t, e.must(3, "promote", "web@1.1.0", "schema@8", "--to", "prod", "--as", "alice", "-o", "json"), &p)
	if p.State != "waiting" || p.names() != "web@1.1.0 schema@8" || p.Service != "web" || p.Version != "1.1.0" {
		t.Fatalf("the train: %+v", p)
	}
	if len(p.Gates) != 6 || !p.gate("dependencies").OK || !p.gate("previous-stage").OK {
		t.Errorf("one set of gates, schema riding along for web's dependency: %+v", p.Gates)
	}
	if txt := e.must(3, "promote", "web@1.1.0", "schema@8", "--to", "prod", "--as", "alice"); !strings.Contains(txt.stdout, p.ID) || !strings.Contains(txt.stdout, "web@1.1.0 + schema@8") {
		t.Errorf("asking again shows the same train:\n%s", txt)
	}
	var done trainDoc
	jsonDoc(t, e.must(0, "approve", p.ID, "--as", "bob", "-o", "json"), &done)
	if done.State != "succeeded" || len(done.Deployments) != 4 {
		t.Fatalf("one approval runs the whole train: %+v", done)
	}
	for _, env := range []string{"prod-us", "prod-eu"} {
		if got := strings.Fields(e.read("order-" + env)); !slices.Equal(got, []string{"schema", "8", "web", "1.1.0"}) {
			t.Errorf("%s deployed %v; want schema@8 before web@1.1.0, which depends on it", env, got)
		}
	}
	if n := e.auditCount("--action", "approve"); n != 1 {
		t.Errorf("%d approvals recorded; want one for the train", n)
	}
}

func TestATrainWhoseSecondMemberFailsRollsBackTheFirstInThatWave(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(trainEstate, "@POLICY@", "{}", 1))
	e.release("schema", "--version", "7")
	e.release("web", "--version", "1.0")
	e.must(0, "promote", "schema@7", "web@1.0", "--to", "prod")
	e.release("schema", "--version", "8")
	e.release("web", "--version", "1.1")
	e.write("../scratch/sick-web-1.1-prod-us", "")

	var p trainDoc
	r := e.must(1, "promote", "web@1.1", "schema@8", "--to", "prod", "-o", "json")
	jsonDoc(t, r, &p)
	if p.State != "failed" {
		t.Fatalf("the train whose web fails in prod-us: %+v\n%s", p, r)
	}
	if got := e.versions("schema-prod-us"); got != "7 8 7" {
		t.Errorf("schema in prod-us went %q; want 7, the train's 8, then back to 7", got)
	}
	if got := e.versions("web-prod-us"); got != "1.0 1.0" {
		t.Errorf("web in prod-us went %q; want 1.0, then its own rollback to 1.0", got)
	}
	if got := e.versions("schema-prod-eu") + " / " + e.versions("web-prod-eu"); got != "7 / 1.0" {
		t.Errorf("prod-eu, the next wave, saw %q; want it untouched", got)
	}
	rollbacks := 0
	for _, d := range p.Deployments {
		if d.Kind == "rollback" && d.Service == "schema" && d.Environment == "prod-us" && d.Version == "7" {
			rollbacks++
		}
	}
	if rollbacks != 1 {
		t.Errorf("the train's document should list schema's rollback in prod-us: %+v", p.Deployments)
	}
}

func TestATrainNamingOneServiceTwiceIsExit2(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(trainEstate, "@POLICY@", "{}", 1))
	e.release("schema", "--version", "7")
	e.release("schema", "--version", "8")
	before := e.storeSum()
	if r := e.must(2, "promote", "schema@7", "schema@8", "--to", "prod"); !strings.Contains(r.stderr, "schema is named twice") {
		t.Errorf("want the service named:\n%s", r)
	}
	if e.must(2, "promote", "schema@7", "nosuch@1", "--to", "prod"); e.storeSum() != before {
		t.Error("a refused train changed the store")
	}
}

func TestATrainPrintsTheSameOnAServerAsLocally(t *testing.T) {
	t.Parallel()
	tw := newTwins(t, strings.Replace(trainEstate, "@POLICY@", "{approvals: 1}", 1))
	tw.same(t, "ann", "release", "schema", "--version", "8")
	tw.same(t, "ann", "release", "web", "--version", "1.1.0")
	tw.same(t, "ann", "plan", "web@1.1.0", "schema@8", "--to", "prod", "-o", "json")
	l, r := tw.same(t, "ann", "promote", "web@1.1.0", "schema@8", "--to", "prod", "-o", "json")
	var lp, rp trainDoc
	jsonDoc(t, l, &lp)
	jsonDoc(t, r, &rp)
	if rp.names() != "web@1.1.0 schema@8" || rp.State != "waiting" {
		t.Fatalf("the train on the server: %+v", rp)
	}
	if a, _ := tw.samePair(t, "bob", []string{"approve", lp.ID}, []string{"approve", rp.ID}); a.code != 0 {
		t.Fatalf("approving the train: %s", a)
	}
	if got := strings.Fields(tw.remote.read("order-prod-eu")); !slices.Equal(got, []string{"schema", "8", "web", "1.1.0"}) {
		t.Errorf("the server's prod-eu deployed %v", got)
	}
}
