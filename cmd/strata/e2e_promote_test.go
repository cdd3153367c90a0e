package main_test

// End-to-end tests of issue 4 (pipelines and governance): promote, plan, approve, reject,
// waves, freezes and deploy windows, run as a user would run them.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// govEstate is dev and staging (both auto), then two prod environments one wave at a time
// behind an approval. api depends on db. Deploy steps append the version to the scratch file
// "SERVICE-ENV"; api's health fails where the scratch file "sick-ENV" exists (a healthy
// check may need its 5s on a busy machine; 1s was missed).
const govEstate = `project: gov
environments:
  dev: {}
  staging: {}
  prod-us:
    labels: {tier: prod}
    policy: {approvals: 1}
  prod-eu:
    extends: prod-us
services:
  db:
    deploy: echo "$STRATA_VERSION" >> "@SCRATCH@/db-$STRATA_ENV"
  api:
    deploy: echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"
    health: {command: 'test ! -e "@SCRATCH@/sick-$STRATA_ENV"', timeout: 5s, interval: 100ms}
    rollback: previous
    depends_on: [db]
    config:
      PORT: {type: integer, default: 8080}
    overrides:
      prod-eu: {PORT: 9090}
pipeline:
  - {stage: dev, environments: [dev], auto: true}
  - {stage: staging, environments: [staging], auto: true}
  - stage: prod
    environments: {tier: prod}
    waves: 1
`

// gate is one entry of a promotion's "gates".
type gate struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// promotionDoc is the JSON document of `promote`, `approve` and `plan`.
type promotionDoc struct {
	ID           string         `json:"id"`
	Service      string         `json:"service"`
	Version      string         `json:"version"`
	Stage        string         `json:"stage"`
	State        string         `json:"state"`
	Gates        []gate         `json:"gates"`
	Waves        [][]string     `json:"waves"`
	Deployments  []deployment   `json:"deployments"`
	Error        string         `json:"error"`
	Next         *promotionDoc  `json:"next"`
	Environments []envPlanDoc   `json:"environments"`
	Override     map[string]any `json:"override"`
}

type envPlanDoc struct {
	Name    string `json:"name"`
	Wave    int    `json:"wave"`
	Current string `json:"current_version"`
	Changes []struct {
		Key  string `json:"key"`
		From any    `json:"from"`
		To   any    `json:"to"`
	} `json:"config_changes"`
}

func (p promotionDoc) gate(name string) gate {
	for _, g := range p.Gates {
		if g.Name == name {
			return g
		}
	}
	return gate{Name: name + " (missing)"}
}

// promote runs a promotion command (promote, approve, plan) with -o json, wants exit want,
// and returns its document.
func (e *estate) promote(want int, args ...string) promotionDoc {
	e.t.Helper()
	r := e.must(want, append(args, "-o", "json")...)
	var p promotionDoc
	jsonDoc(e.t, r, &p)
	return p
}

// auditCount is the number of events `audit` lists with the filter args.
func (e *estate) auditCount(args ...string) int {
	e.t.Helper()
	var evs []map[string]any
	jsonDoc(e.t, e.must(0, append([]string{"audit", "-o", "json"}, args...)...), &evs)
	return len(evs)
}

// auditHolds fails t unless `audit --verify` finds the chain whole.
func (e *estate) auditHolds(t *testing.T) {
	t.Helper()
	var v verifyDoc
	jsonDoc(t, e.must(0, "audit", "--verify", "-o", "json"), &v)
	if !v.OK {
		t.Errorf("audit --verify: %+v", v)
	}
}

// storeSum fingerprints the store's files.
func (e *estate) storeSum() string {
	e.t.Helper()
	h := sha256.New()
	for _, name := range []string{"state.db", "state.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(e.dir, ".strata", name))
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// versions is what a scratch file "SERVICE-ENV" says was deployed, space separated.
func (e *estate) versions(name string) string { return strings.Join(strings.Fields(e.read(name)), " ") }

func TestPromoteThroughGates(t *testing.T) {
	t.Parallel()
	e := newEstate(t, govEstate)
	e.release("db", "--version", "1")
	e.release("api", "--version", "1")
	if e.versions("api-staging") != "1" || e.versions("db-staging") != "1" {
		t.Fatalf("releases did not land in dev and staging by themselves: api %q, db %q", e.read("api-staging"), e.read("db-staging"))
	}

	var apiID string
	t.Run("plan shows waves, gates and each environment's config, changing nothing", func(t *testing.T) {
		e := e.with(t)
		before, events := e.storeSum(), e.auditCount()
		p := e.promote(0, "plan", "api@1")
		if p.Stage != "prod" || p.ID != "" || fmt.Sprint(p.Waves) != "[[prod-us] [prod-eu]]" {
			t.Errorf("plan: stage %s, id %q, waves %v; want prod, no id, [[prod-us] [prod-eu]]", p.Stage, p.ID, p.Waves)
		}
		if g := p.gate("approvals"); g.OK {
			t.Errorf("approvals gate open in the plan: %+v", g)
		}
		if g := p.gate("dependencies"); g.OK || !strings.Contains(g.Detail, "db") {
			t.Errorf("dependencies gate = %+v, want closed naming db", g)
		}
		ports := map[string]any{}
		for _, env := range p.Environments {
			for _, c := range env.Changes {
				if c.Key == "PORT" && c.From == nil {
					ports[env.Name] = c.To
				}
			}
		}
		if fmt.Sprint(ports) != "map[prod-eu:9090 prod-us:8080]" {
			t.Errorf("PORT each environment would get: %v; environments %+v", ports, p.Environments)
		}
		text := e.must(0, "plan", "api@1").stdout
		for _, want := range []string{"✗ approvals", "✓ previous-stage", "prod-eu (wave 2)", "PORT: - -> 9090"} {
			if !strings.Contains(text, want) {
				t.Errorf("plan's text lacks %q:\n%s", want, text)
			}
		}
		if after := e.storeSum(); after != before {
			t.Error("plan changed the store's files")
		}
		if n := e.auditCount(); n != events {
			t.Errorf("plan changed the audit log: %d events, then %d", events, n)
		}
	})

	t.Run("a closed gate leaves the promotion waiting: exit 3, every gate and the id reported", func(t *testing.T) {
		e := e.with(t)
		p := e.promote(3, "promote", "api@1", "--as", "alice")
		apiID = p.ID
		if p.State != "waiting" || p.ID == "" || len(p.Gates) != 7 {
			t.Fatalf("promote: %+v, want waiting with seven gates", p)
		}
		for _, name := range []string{"approvals", "dependencies"} {
			if g := p.gate(name); g.OK || g.Detail == "" {
				t.Errorf("gate %s = %+v, want closed, saying what opens it", name, g)
			}
		}
		if g := p.gate("approvals"); !strings.Contains(g.Detail, "strata approve "+p.ID) {
			t.Errorf("approvals gate should say how to approve %s: %q", p.ID, g.Detail)
		}
		r := e.must(3, "promote", "api@1", "--as", "alice")
		for _, want := range []string{p.ID, "✗ approvals", "✗ dependencies", "✓ freeze", "✓ window"} {
			if !strings.Contains(r.stdout+r.stderr, want) {
				t.Errorf("promote's text output lacks %q:\n%s", want, r)
			}
		}
		if e.read("api-prod-us") != "" {
			t.Error("a waiting promotion deployed")
		}
	})

	t.Run("approve: never the requester, once per principal, and it runs when the last gate opens", func(t *testing.T) {
		e := e.with(t)
		db := e.promote(3, "promote", "db@1", "--as", "alice")
		events := e.auditCount()
		if r := e.must(2, "approve", db.ID, "--as", "alice"); !strings.Contains(r.stderr, "alice") {
			t.Errorf("the requester's approval: %s", r)
		}
		if n := e.auditCount(); n != events {
			t.Errorf("a refused approval changed the audit log: %d events, then %d", events, n)
		}
		done := e.promote(0, "approve", db.ID, "--as", "bob")
		if done.State != "succeeded" || e.versions("db-prod-us") != "1" || e.versions("db-prod-eu") != "1" {
			t.Fatalf("approved db promotion: %+v; db-prod-us %q", done, e.read("db-prod-us"))
		}
		events = e.auditCount()
		e.must(2, "approve", db.ID, "--as", "bob")
		e.must(2, "approve", db.ID, "--as", "carol")
		e.must(2, "reject", db.ID, "--as", "carol", "--reason", "too late")
		if n := e.auditCount(); n != events {
			t.Errorf("approving a promotion that is not waiting changed the audit log: %d events, then %d", events, n)
		}

		// api's promotion waited on its approval and on db; the approval opens the last gate.
		api := e.promote(0, "approve", apiID, "--as", "bob")
		if api.State != "succeeded" || len(api.Deployments) != 2 || e.versions("api-prod-eu") != "1" {
			t.Errorf("approved api promotion: %+v", api)
		}
	})

	t.Run("a failed health check rolls back, halts the remaining waves and fails the promotion", func(t *testing.T) {
		e := e.with(t)
		e.release("api", "--version", "2")
		os.WriteFile(e.path("sick-prod-us"), nil, 0o644)
		p := e.promote(3, "promote", "api@2", "--as", "alice")
		f := e.promote(1, "approve", p.ID, "--as", "bob")
		if f.State != "failed" || f.Error == "" {
			t.Errorf("promotion: %+v, want failed with an error", f)
		}
		if got := e.versions("api-prod-us"); got != "1 2 1" {
			t.Errorf("prod-us saw %q, want 1, 2, then the rollback to 1", got)
		}
		if got := e.versions("api-prod-eu"); got != "1" {
			t.Errorf("prod-eu saw %q: the halted wave's deploy step ran", got)
		}
		if ds := e.history("api", "--env", "prod-us"); len(ds) == 0 || ds[0].Version != "1" || ds[0].Kind != "rollback" {
			t.Errorf("prod-us history: %+v, want the rollback to 1 newest", ds)
		}
	})

	t.Run("reject closes a waiting promotion and says why", func(t *testing.T) {
		e := e.with(t)
		e.release("api", "--version", "3")
		p := e.promote(3, "promote", "api@3", "--as", "alice")
		e.must(2, "reject", p.ID, "--as", "bob")
		r := e.promote(0, "reject", p.ID, "--as", "bob", "--reason", "not this week")
		if r.State != "rejected" {
			t.Errorf("reject: %+v", r)
		}
		e.must(2, "approve", p.ID, "--as", "carol")
		if e.versions("api-prod-eu") != "1" {
			t.Error("a rejected promotion deployed")
		}
	})
}

// policyEstate has dev (auto) and prod, whose policy a test writes.
const policyEstate = `project: pol
environments:
  dev: {}
  prod:
    policy: @POLICY@
services:
  api:
    deploy: echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"
pipeline:
  - {stage: dev, environments: [dev], auto: true}
  - {stage: prod, environments: [prod]}
`

func TestFreezeBlocksPromotionsAndDeploysUntilUnfrozen(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(policyEstate, "@POLICY@", "{}", 1))
	e.release("api", "--version", "1")
	e.must(2, "freeze", "prod")
	e.must(0, "freeze", "prod", "--reason", "incident 42")

	p := e.promote(3, "promote", "api@1")
	if g := p.gate("freeze"); g.OK || !strings.Contains(g.Detail, "incident 42") || !strings.Contains(g.Detail, "strata unfreeze prod") {
		t.Errorf("freeze gate = %+v, want closed with the reason and how to reopen", g)
	}
	if r := e.must(3, "deploy", "api@1", "--env", "prod"); !strings.Contains(r.stderr, "frozen") {
		t.Errorf("deploy into a frozen environment: %s", r)
	}
	if e.read("api-prod") != "" {
		t.Fatal("something deployed into a frozen environment")
	}
	e.must(0, "unfreeze", "prod")
	e.must(2, "unfreeze", "prod")
	if d := e.deploy(0, "api@1", "--env", "prod"); d.State != "succeeded" {
		t.Errorf("deploy after unfreeze: %+v", d)
	}
	// The waiting promotion's gate is open now; resume runs it.
	e.must(0, "resume")
	if got := e.versions("api-prod"); got != "1 1" {
		t.Errorf("prod saw %q, want the deploy and then the resumed promotion", got)
	}
	if n := e.auditCount("--action", "freeze"); n != 1 {
		t.Errorf("%d freeze events, want 1", n)
	}
	if n := e.auditCount("--action", "unfreeze"); n != 1 {
		t.Errorf("%d unfreeze events, want 1", n)
	}
}

// closedWindow returns a window that is closed for the next hour, and when it opens next.
func closedWindow() (spec string, opens time.Time) {
	now := time.Now().UTC()
	opens = now.Truncate(time.Hour).Add(2 * time.Hour)
	end := opens.Add(time.Hour)
	return fmt.Sprintf("* %02d:00-%02d:00 UTC", opens.Hour(), end.Hour()), opens
}

func TestAClosedWindowMakesPromotionsWaitUnlessOverriddenWithAReason(t *testing.T) {
	t.Parallel()
	spec, opens := closedWindow()
	e := newEstate(t, strings.Replace(policyEstate, "@POLICY@", fmt.Sprintf("{windows: [%q]}", spec), 1))
	e.release("api", "--version", "1")

	p := e.promote(3, "promote", "api@1", "--as", "alice")
	g := p.gate("window")
	if g.OK || !strings.Contains(g.Detail, "until "+opens.Format(time.RFC3339)) {
		t.Errorf("window gate = %+v, want closed until %s", g, opens.Format(time.RFC3339))
	}
	if r := e.must(3, "deploy", "api@1", "--env", "prod"); !strings.Contains(r.stderr, "window") {
		t.Errorf("deploy outside the window: %s", r)
	}
	if r := e.must(2, "promote", "api@1", "--override-window", "--as", "root"); !strings.Contains(r.stderr, "--reason") {
		t.Errorf("override without a reason: %s", r)
	}
	o := e.promote(0, "promote", "api@1", "--override-window", "--reason", "hotfix for INC-7", "--as", "root")
	if o.State != "succeeded" || e.versions("api-prod") != "1" {
		t.Fatalf("overridden promotion: %+v", o)
	}
	if g := o.gate("window"); !g.OK || !strings.Contains(g.Detail, "hotfix for INC-7") {
		t.Errorf("window gate = %+v, want open, overridden with the reason", g)
	}
	var evs []struct {
		Actor  string         `json:"actor"`
		Detail map[string]any `json:"detail"`
	}
	jsonDoc(t, e.must(0, "audit", "-o", "json", "--actor", "root"), &evs)
	found := false
	for _, ev := range evs {
		found = found || ev.Detail["reason"] == "hotfix for INC-7"
	}
	if !found {
		t.Errorf("no audit event by root records the override's reason: %+v", evs)
	}
}

func TestTwoConcurrentPromotionsOfOneReleaseToOneStageMakeOne(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(policyEstate, "@POLICY@", "{approvals: 1}", 1))
	e.release("api", "--version", "1")
	a := e.start("promote", "api@1", "-o", "json")
	b := e.start("promote", "api@1", "-o", "json")
	var ids []string
	for _, bg := range []*background{a, b} {
		r := bg.wait(t, 30*time.Second)
		if r.code != 3 {
			t.Fatalf("want exit 3 (waiting), got\n%s", r)
		}
		var p promotionDoc
		jsonDoc(t, r, &p)
		ids = append(ids, p.ID)
	}
	if ids[0] == "" || ids[0] != ids[1] {
		t.Errorf("the two promotes printed %q and %q, want one id", ids[0], ids[1])
	}
	if n := e.auditCount("--action", "promote"); n != 1 {
		t.Errorf("audit shows %d promote events, want 1", n)
	}
}

func TestBadPromotionInputIsExit2(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(policyEstate, "@POLICY@", "{approvals: 1}", 1))
	e.release("api", "--version", "1")
	for _, c := range []struct {
		name string
		args []string
		says string
	}{
		{"an unknown service", []string{"promote", "nope"}, "unknown service"},
		{"an unknown version", []string{"promote", "api@9"}, "no release"},
		{"an unknown stage", []string{"promote", "api@1", "--to", "qa"}, "unknown stage"},
		{"plan of an unknown stage", []string{"plan", "api@1", "--to", "qa"}, "unknown stage"},
		{"approving an unknown promotion", []string{"approve", "p-0000000000", "--as", "bob"}, "p-0000000000"},
		{"rejecting without a reason", []string{"reject", "p-0000000000"}, "--reason"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := e.with(t).must(2, c.args...); !strings.Contains(r.stderr, c.says) {
				t.Errorf("stderr should say %q:\n%s", c.says, r)
			}
		})
	}
	if n := e.auditCount("--action", "promote"); n != 0 {
		t.Errorf("bad input recorded %d promotions", n)
	}
}
