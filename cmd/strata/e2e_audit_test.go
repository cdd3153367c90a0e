package main_test

// End-to-end tests of the audit log (issue 4): every mutating action is an event with its
// actor, `audit` filters them, and `audit --verify` finds rows edited, removed or reordered
// in the database file by someone who bypassed Strata.

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// auditEstate has dev (auto), staging, prod behind an approval and eu behind a window
// closed for the next hour.
const auditEstate = `project: aud
environments:
  dev: {}
  staging: {}
  prod:
    policy: {approvals: 1}
  eu:
    policy: {windows: [@WINDOW@]}
services:
  api:
    deploy: echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"
pipeline:
  - {stage: dev, environments: [dev], auto: true}
  - {stage: prod, environments: [prod]}
  - {stage: eu, environments: [eu]}
`

// event is one entry of `audit -o json`.
type event struct {
	Seq         int64          `json:"seq"`
	Actor       string         `json:"actor"`
	Action      string         `json:"action"`
	Service     string         `json:"service"`
	Environment string         `json:"environment"`
	Subject     string         `json:"subject"`
	Detail      map[string]any `json:"detail"`
}

// verifyDoc is the document of `audit --verify -o json`.
type verifyDoc struct {
	OK       bool   `json:"ok"`
	Events   int    `json:"events"`
	BrokenAt *int64 `json:"broken_at"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

func (e *estate) events(args ...string) []event {
	e.t.Helper()
	var evs []event
	jsonDoc(e.t, e.must(0, append([]string{"audit", "-o", "json"}, args...)...), &evs)
	return evs
}

// rollbackReason is the reason audited's rollback gives: hostile, to be kept as it is.
const rollbackReason = `bad build $(touch pwned) <b>"2"</b>`

// audited runs every kind of mutating action, each as its own principal.
func audited(t *testing.T) *estate {
	spec, _ := closedWindow()
	e := newEstate(t, strings.Replace(auditEstate, "@WINDOW@", fmt.Sprintf("%q", spec), 1))
	e.must(0, "release", "api", "--version", "1", "--as", "rel-bot")
	e.must(0, "release", "api", "--version", "2", "--as", "rel-bot")
	e.must(0, "deploy", "api@1", "--env", "staging", "--as", "dana")
	e.must(0, "rollback", "api", "--env", "dev", "--reason", rollbackReason, "--as", "dana")
	p := e.promote(3, "promote", "api@1", "--to", "prod", "--as", "alice")
	e.must(0, "approve", p.ID, "--as", "bob")
	p = e.promote(3, "promote", "api@2", "--to", "prod", "--as", "alice")
	e.must(0, "reject", p.ID, "--reason", "not today", "--as", "bob")
	e.must(3, "promote", "api@1", "--to", "eu", "--as", "alice")
	e.must(0, "promote", "api@1", "--to", "eu", "--override-window", "--reason", "INC-9", "--as", "root")
	e.must(0, "freeze", "staging", "--reason", "audit week", "--as", "ops")
	e.must(0, "unfreeze", "staging", "--as", "ops")
	return e
}

func TestEveryMutatingActionIsAuditedWithItsActor(t *testing.T) {
	t.Parallel()
	e := audited(t)
	all := e.events()
	byAction := map[string][]string{}
	for _, ev := range all {
		byAction[ev.Action] = append(byAction[ev.Action], ev.Actor)
	}
	for action, actor := range map[string]string{
		"release": "rel-bot", "deploy": "dana", "rollback": "dana", "promote": "alice", "approve": "bob",
		"reject": "bob", "override": "root", "freeze": "ops", "unfreeze": "ops",
	} {
		if !strings.Contains(strings.Join(byAction[action], " "), actor) {
			t.Errorf("no %s event by %s; %s events by %v", action, actor, action, byAction[action])
		}
	}
	for _, ev := range all {
		if ev.Action == "override" && ev.Detail["reason"] != "INC-9" {
			t.Errorf("the override event does not record its reason: %+v", ev)
		}
		if ev.Action == "rollback" && ev.Detail["reason"] != rollbackReason {
			t.Errorf("the rollback event does not record its --reason as given: %+v", ev)
		}
	}

	filters := []struct {
		name string
		args []string
		ok   func(event) bool
		must []string // actions that must be among the results
	}{
		{"--service keeps one service's events", []string{"--service", "api"},
			func(ev event) bool { return ev.Service == "api" }, []string{"release", "promote", "approve"}},
		{"--env keeps one environment's events", []string{"--env", "staging"},
			func(ev event) bool { return ev.Environment == "staging" }, []string{"deploy", "freeze", "unfreeze"}},
		{"--env also keeps the promotions of the environment's stages", []string{"--env", "prod"},
			func(ev event) bool {
				return ev.Environment == "prod" || ev.Environment == "" && ev.Detail["stage"] == "prod"
			},
			[]string{"deploy", "promote", "approve", "reject"}},
		{"--actor keeps one principal's events", []string{"--actor", "bob"},
			func(ev event) bool { return ev.Actor == "bob" }, []string{"approve", "reject"}},
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			evs := e.with(t).events(f.args...)
			seen := map[string]bool{}
			for _, ev := range evs {
				if !f.ok(ev) {
					t.Errorf("%v returned %+v", f.args, ev)
				}
				seen[ev.Action] = true
			}
			for _, a := range f.must {
				if !seen[a] {
					t.Errorf("%v lacks a %s event", f.args, a)
				}
			}
			if len(evs) == 0 || len(evs) == len(all) {
				t.Errorf("%v returned %d of %d events", f.args, len(evs), len(all))
			}
		})
	}

	t.Run("--verify passes an untouched log", func(t *testing.T) {
		e := e.with(t)
		var v verifyDoc
		jsonDoc(t, e.must(0, "audit", "--verify", "-o", "json"), &v)
		if !v.OK || v.Events != len(all) || v.BrokenAt != nil {
			t.Errorf("verify: %+v, want ok over %d events", v, len(all))
		}
		if r := e.must(0, "audit", "--verify"); !strings.Contains(r.stdout, "ok") {
			t.Errorf("verify's text: %s", r)
		}
	})
}

func TestVerifyNamesTheFirstBrokenEventAfterTampering(t *testing.T) {
	t.Parallel()
	orig := audited(t)
	var k int64
	for _, ev := range orig.events() {
		if ev.Action == "approve" {
			k = ev.Seq
		}
	}
	if k == 0 {
		t.Fatal("no approve event to tamper with")
	}
	cases := []struct {
		name string
		sql  []string // K stands for the tampered event's seq
		why  string   // what the text says happened
	}{
		{"an edited detail", []string{`UPDATE events SET detail = '{"version":"9"}' WHERE seq = K`}, "changed"},
		{"an edited actor", []string{`UPDATE events SET actor = 'mallory' WHERE seq = K`}, "changed"},
		{"a removed row", []string{`DELETE FROM events WHERE seq = K`}, "removed"},
		{"two rows' sequence numbers swapped", []string{
			`UPDATE events SET seq = -1 WHERE seq = K`,
			`UPDATE events SET seq = K WHERE seq = K + 1`,
			`UPDATE events SET seq = K + 1 WHERE seq = -1`,
		}, "link"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEstate(t, "project: copy\n")
			e.write("strata.yaml", mustRead(t, filepath.Join(orig.dir, "strata.yaml")))
			db := copyStore(t, orig, e)
			// An attacker with the file can drop the triggers that keep the log append-only.
			for _, q := range append([]string{`DROP TRIGGER events_no_update`, `DROP TRIGGER events_no_delete`}, c.sql...) {
				if _, err := db.Exec(strings.ReplaceAll(q, "K", fmt.Sprint(k))); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()

			var v verifyDoc
			jsonDoc(t, e.must(1, "audit", "--verify", "-o", "json"), &v)
			if v.OK || v.BrokenAt == nil || *v.BrokenAt != k {
				t.Errorf("verify: %+v, want broken at %d", v, k)
			}
			r := e.must(1, "audit", "--verify")
			if !strings.Contains(r.stderr, fmt.Sprintf("broken at event %d", k)) || !strings.Contains(r.stderr, c.why) {
				t.Errorf("verify's text should name event %d and say %q:\n%s", k, c.why, r)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// copyStore copies from's store into to's (a consistent copy, WAL included) and returns the
// copy opened with database/sql, as anyone with the file could.
func copyStore(t *testing.T, from, to *estate) *sql.DB {
	t.Helper()
	src, err := sql.Open("sqlite", filepath.Join(from.dir, ".strata", "state.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(to.dir, ".strata", "state.db")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Exec(`VACUUM INTO ?`, dst); err != nil {
		t.Fatalf("copy the store: %v", err)
	}
	db, err := sql.Open("sqlite", dst)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// A hash chain cannot show that events were cut from its end; a head recorded earlier
// (audit --verify prints it) can.
func TestARecordedHeadDetectsEventsCutFromTheEnd(t *testing.T) {
	t.Parallel()
	orig := audited(t)
	var v verifyDoc
	jsonDoc(t, orig.must(0, "audit", "--verify", "-o", "json"), &v)
	if v.HeadSeq == 0 || len(v.HeadHash) != 64 {
		t.Fatalf("verify should name the head: %+v", v)
	}
	anchor := fmt.Sprintf("%d:%s", v.HeadSeq, v.HeadHash)
	orig.must(0, "audit", "--verify", "--expect", anchor)

	e := newEstate(t, "project: copy\n")
	e.write("strata.yaml", mustRead(t, filepath.Join(orig.dir, "strata.yaml")))
	db := copyStore(t, orig, e)
	for _, q := range []string{`DROP TRIGGER events_no_delete`, fmt.Sprintf(`DELETE FROM events WHERE seq >= %d`, v.HeadSeq-1)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	e.must(0, "audit", "--verify") // the chain alone still holds
	r := e.must(1, "audit", "--verify", "--expect", anchor)
	if !strings.Contains(r.stderr, "removed from its end") {
		t.Errorf("verify --expect should say events were cut from the end:\n%s", r)
	}
	e.must(2, "audit", "--verify", "--expect", "12:nothex")
}
