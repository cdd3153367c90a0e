package main_test

// End-to-end tests of issue 13 point 3 (recall): a release marked bad is neither promoted
// nor deployed, its waiting promotions are rejected, --rollback rolls back every environment
// that runs it in the pipeline's waves, and `deploy` without a version passes over recalled
// and failed releases, saying which it picked.

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// recallEstate is dev and staging (auto), then prod-us and prod-eu one wave at a time, the
// second behind an approval. Deploy steps append the version to "SERVICE-ENV"; the deploy
// fails where the scratch file "broken-VERSION" or "broken-VERSION-ENV" exists; health fails
// where "sick-ENV" does.
const recallEstate = `project: recall
environments:
  dev: {}
  staging: {}
  prod-us:
    labels: {tier: prod}
  prod-eu:
    labels: {tier: prod}
services:
  api:
    deploy: 'test ! -e "@SCRATCH@/broken-$STRATA_VERSION" && test ! -e "@SCRATCH@/broken-$STRATA_VERSION-$STRATA_ENV" && echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"'
    health: {command: 'test ! -e "@SCRATCH@/sick-$STRATA_ENV"', timeout: 5s, interval: 100ms}
    rollback: previous
pipeline:
  - {stage: dev, environments: [dev], auto: true}
  - {stage: staging, environments: [staging], auto: true}
  - stage: prod
    environments: {tier: prod}
    waves: 1
`

// recallDoc is the JSON document of `recall` and `unrecall`.
type recallDoc struct {
	Service  string `json:"service"`
	Version  string `json:"version"`
	Recalled *struct {
		By     string    `json:"by"`
		Reason string    `json:"reason"`
		At     time.Time `json:"at"`
	} `json:"recalled"`
	Rejected  []string     `json:"rejected"`
	Waves     [][]string   `json:"waves"`
	Rollbacks []deployment `json:"rollbacks"`
	Left      []string     `json:"left"`
}

func (e *estate) recall(want int, args ...string) recallDoc {
	e.t.Helper()
	var doc recallDoc
	jsonDoc(e.t, e.must(want, append(args, "-o", "json")...), &doc)
	return doc
}

func TestARecalledReleaseIsRefusedEverywhereUntilUnrecalled(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(recallEstate, "  prod-eu:\n    labels: {tier: prod}", "  prod-eu:\n    labels: {tier: prod}\n    policy: {approvals: 1}", 1))
	e.release("api", "--version", "1")
	e.release("api", "--version", "2")
	waiting := e.promote(3, "promote", "api@2", "--to", "prod", "--as", "alice")
	if waiting.State != "waiting" {
		t.Fatalf("promotion to prod is %s, want waiting on its approval", waiting.State)
	}

	reason := `corrupts carts; "$(touch @SCRATCH@/pwned)" <script>`
	reason = strings.ReplaceAll(reason, "@SCRATCH@", e.scratch)
	doc := e.recall(0, "recall", "api@2", "--reason", reason, "--as", "carol")
	if doc.Recalled == nil || doc.Recalled.By != "carol" || doc.Recalled.Reason != reason {
		t.Fatalf("recall document %+v, want recalled by carol with the reason as given", doc)
	}
	if len(doc.Rejected) != 1 || doc.Rejected[0] != waiting.ID {
		t.Errorf("rejected %v, want the waiting promotion %s", doc.Rejected, waiting.ID)
	}

	t.Run("the waiting promotion was rejected, naming the recall", func(t *testing.T) {
		e := e.with(t)
		r := e.must(2, "approve", waiting.ID, "--as", "bob")
		if !strings.Contains(r.stderr, "rejected") {
			t.Errorf("approving the rejected promotion: %s", r)
		}
	})

	t.Run("promote and deploy are refused with exit 3 and a recall gate naming who and why", func(t *testing.T) {
		e := e.with(t)
		p := e.promote(3, "promote", "api@2", "--to", "prod")
		if p.ID != "" || p.State != "rejected" {
			t.Errorf("the promotion of a recalled release was recorded: %+v", p)
		}
		g := p.gate("recall")
		if g.OK || !strings.Contains(g.Detail, "recalled by carol") || !strings.Contains(g.Detail, "corrupts carts") {
			t.Errorf("recall gate %+v, want closed naming carol and why", g)
		}
		r := e.must(3, "deploy", "api@2", "--env", "prod-us")
		if !strings.Contains(r.stderr, "gate recall") || !strings.Contains(r.stderr, "carol") {
			t.Errorf("deploy of the recalled release: %s", r)
		}
		r = e.must(0, "plan", "api@2", "--to", "prod")
		if !strings.Contains(r.stdout, "✗ recall") {
			t.Errorf("plan does not show the closed recall gate:\n%s", r)
		}
		if e.versions("api-prod-us") != "" {
			t.Errorf("prod-us ran %q", e.versions("api-prod-us"))
		}
		if _, err := os.Stat(e.path("pwned")); err == nil {
			t.Error("the reason was run as a command")
		}
	})

	t.Run("history and release show the recall", func(t *testing.T) {
		e := e.with(t)
		var hs []struct {
			Version  string `json:"version"`
			Recalled *struct {
				By string `json:"by"`
			} `json:"recalled"`
		}
		jsonDoc(t, e.must(0, "history", "api", "-o", "json"), &hs)
		marked := map[string]bool{}
		for _, h := range hs {
			marked[h.Version] = h.Recalled != nil && h.Recalled.By == "carol"
		}
		if !marked["2"] || marked["1"] {
			t.Errorf("history marks %v, want 2 recalled by carol and 1 not", marked)
		}
		if text := e.must(0, "history", "api").stdout; !strings.Contains(text, "2 (recalled)") {
			t.Errorf("history's text does not mark 2 recalled:\n%s", text)
		}
		var rel struct {
			Recalled *struct{ By, Reason string } `json:"recalled"`
		}
		// Released again, it is the release that was, and lands nowhere.
		jsonDoc(t, e.must(0, "release", "api", "--version", "2", "-o", "json"), &rel)
		if rel.Recalled == nil || rel.Recalled.By != "carol" {
			t.Errorf("release api --version 2 says recalled %+v, want carol's recall", rel.Recalled)
		}
	})

	t.Run("a second recall names the first; unrecall lifts it and the release goes again", func(t *testing.T) {
		e := e.with(t)
		r := e.must(2, "recall", "api@2", "--reason", "again")
		if !strings.Contains(r.stderr, "recalled already, by carol") {
			t.Errorf("second recall: %s", r)
		}
		e.recall(0, "unrecall", "api@2", "--reason", "fixed upstream", "--as", "dave")
		e.must(2, "unrecall", "api@2", "--reason", "twice")
		e.deploy(0, "api@2", "--env", "prod-us")
		if e.versions("api-prod-us") != "2" {
			t.Errorf("prod-us ran %q after the unrecall, want 2", e.versions("api-prod-us"))
		}
		var evs []struct {
			Actor, Action string
		}
		jsonDoc(t, e.must(0, "audit", "-o", "json", "--service", "api"), &evs)
		got := ""
		for _, ev := range evs {
			if ev.Action == "recall" || ev.Action == "unrecall" {
				got += ev.Action + " by " + ev.Actor + "; "
			}
		}
		if got != "recall by carol; unrecall by dave; " {
			t.Errorf("audited %q, want carol's recall then dave's unrecall", got)
		}
	})
}

func TestRecallBadInputIsRefusedWithExit2AndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEstate(t, recallEstate)
	e.release("api", "--version", "1")
	tests := []struct {
		name     string
		args     []string
		mentions string
	}{
		{"a release without a version", []string{"recall", "api", "--reason", "bad"}, "SERVICE@VERSION"},
		{"an unknown service", []string{"recall", "nope@1", "--reason", "bad"}, "nope"},
		{"an unknown version names the known ones", []string{"recall", "api@9", "--reason", "bad"}, "known versions"},
		{"no reason", []string{"recall", "api@1"}, "--reason"},
		{"a reason with a control character", []string{"recall", "api@1", "--reason", "bad\x1b[2Jnews"}, "--reason"},
		{"an unrecall of a release not recalled", []string{"unrecall", "api@1", "--reason", "ok"}, "not recalled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			before := e.auditCount()
			r := e.must(2, tt.args...)
			if !strings.Contains(r.stderr, tt.mentions) {
				t.Errorf("stderr does not mention %q:\n%s", tt.mentions, r)
			}
			if after := e.auditCount(); after != before {
				t.Errorf("the audit log grew from %d to %d events", before, after)
			}
		})
	}
}

func TestRecallWithRollbackRollsBackEveryEnvironmentInWaves(t *testing.T) {
	t.Parallel()
	e := newEstate(t, recallEstate)
	e.release("api", "--version", "1")
	e.promote(0, "promote", "api@1", "--to", "prod")
	e.release("api", "--version", "2")
	e.promote(0, "promote", "api@2", "--to", "prod")

	r := e.must(0, "recall", "api@2", "--reason", "leaks memory", "--rollback")
	for i, env := range []string{"dev", "staging", "prod-us", "prod-eu"} {
		if want := fmt.Sprintf("wave %d of 4: %s\n", i+1, env); !strings.Contains(r.stderr, want) {
			t.Errorf("no progress line %q on stderr (the pipeline's order, prod's waves):\n%s", want, r.stderr)
		}
		if got := e.versions("api-" + env); got != "1 2 1" {
			t.Errorf("%s ran %q, want 1 2 1", env, got)
		}
	}
	rollbacks := 0
	for _, d := range e.history("api") {
		if d.Kind == "rollback" {
			rollbacks++
			if d.Version != "1" || d.State != "succeeded" {
				t.Errorf("rollback %+v, want 1 succeeded", d)
			}
		}
	}
	if rollbacks != 4 {
		t.Errorf("%d rollbacks in history, want 4", rollbacks)
	}

	t.Run("asked again it finds nothing left to roll back", func(t *testing.T) {
		e := e.with(t)
		again := e.recall(0, "recall", "api@2", "--reason", "leaks memory", "--rollback")
		if len(again.Rollbacks) != 0 || len(again.Waves) != 0 {
			t.Errorf("second recall --rollback did %+v", again)
		}
	})
}

func TestDeployWithoutAVersionSkipsRecalledAndFailedReleases(t *testing.T) {
	t.Parallel()
	e := newEstate(t, `project: pick
environments:
  dev: {}
services:
  api:
    deploy: 'test ! -e "@SCRATCH@/broken-$STRATA_VERSION" && echo "$STRATA_VERSION" >> "@SCRATCH@/api-$STRATA_ENV"'
    rollback: previous
`)
	for _, v := range []string{"1", "2", "3"} {
		e.release("api", "--version", v)
	}
	e.deploy(0, "api@1", "--env", "dev")
	if err := os.WriteFile(e.path("broken-2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e.deploy(1, "api@2", "--env", "dev")
	e.recall(0, "recall", "api@3", "--reason", "bad build")

	r := e.must(0, "deploy", "api", "--env", "dev", "-o", "json")
	var d struct {
		deployment
		Picked struct {
			Version string `json:"version"`
			Skipped []struct {
				Version, Why string
			} `json:"skipped"`
		} `json:"picked"`
	}
	jsonDoc(t, r, &d)
	if d.Version != "1" || d.Picked.Version != "1" || len(d.Picked.Skipped) != 2 {
		t.Fatalf("deploy picked %+v, want 1 with 3 and 2 skipped", d)
	}
	if !strings.Contains(d.Picked.Skipped[0].Why, "recalled") || !strings.Contains(d.Picked.Skipped[1].Why, "rolled back") {
		t.Errorf("skipped %+v, want 3 recalled and 2 rolled back", d.Picked.Skipped)
	}
	if !strings.Contains(r.stderr, "picked api@1") || !strings.Contains(r.stderr, "skipped api@3: recalled by") {
		t.Errorf("stderr does not say which release it picked:\n%s", r.stderr)
	}

	t.Run("when every release is passed over it says why, with exit 2", func(t *testing.T) {
		e := e.with(t)
		e.recall(0, "recall", "api@1", "--reason", "also bad")
		r := e.must(2, "deploy", "api", "--env", "dev")
		if !strings.Contains(r.stderr, "no release that may be deployed to dev") {
			t.Errorf("deploy with nothing to pick: %s", r)
		}
	})
}

func TestARecallsRollbackThatFailsHaltsTheWavesAfterItAndAsksAgainToCarryOn(t *testing.T) {
	t.Parallel()
	e := newEstate(t, recallEstate)
	e.release("api", "--version", "1")
	e.promote(0, "promote", "api@1", "--to", "prod")
	e.release("api", "--version", "2")
	e.promote(0, "promote", "api@2", "--to", "prod")
	if err := os.WriteFile(e.path("broken-1-staging"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	doc := e.recall(1, "recall", "api@2", "--reason", "slow", "--rollback")
	if doc.Recalled == nil || fmt.Sprint(doc.Left) != "[prod-us prod-eu]" || len(doc.Rollbacks) != 2 {
		t.Fatalf("recall: %+v; want recalled, dev and staging tried, prod-us and prod-eu left", doc)
	}
	if e.versions("api-prod-us") != "1 2" {
		t.Errorf("prod-us ran %q after the halt, want 1 2 (untouched)", e.versions("api-prod-us"))
	}
	if err := os.Remove(e.path("broken-1-staging")); err != nil {
		t.Fatal(err)
	}
	again := e.recall(0, "recall", "api@2", "--reason", "slow", "--rollback")
	if fmt.Sprint(again.Waves) != "[[staging] [prod-us] [prod-eu]]" || len(again.Left) != 0 {
		t.Errorf("asked again: %+v; want staging, prod-us, prod-eu rolled back", again)
	}
	for _, env := range []string{"staging", "prod-us", "prod-eu"} {
		if got := e.versions("api-" + env); got != "1 2 1" {
			t.Errorf("%s ran %q, want 1 2 1", env, got)
		}
	}
}

func TestRecallOverAServerNeedsTheRolesItDocuments(t *testing.T) {
	t.Parallel()
	e := newEstate(t, recallEstate)
	e.release("api", "--version", "1")
	e.release("api", "--version", "2")
	tokens := map[string]string{}
	for _, tok := range [][]string{{"dana", "--role", "deployer"}, {"devon", "--role", "deployer", "--envs", "name=dev"}, {"bob", "--role", "approver"}} {
		tokens[tok[0]] = createToken(t, e, tok...).Token
	}
	url := serve(t, e)
	as := func(who string) *estate { return e.as(url, tokens[who]).with(t) }

	as("devon").must(4, "recall", "api@2", "--reason", "bad") // 2 runs in staging too
	doc := as("dana").recall(0, "recall", "api@2", "--reason", "bad")
	if doc.Recalled == nil || doc.Recalled.By != "dana" {
		t.Fatalf("remote recall: %+v", doc)
	}
	r := as("dana").must(3, "deploy", "api@2", "--env", "prod-us")
	if !strings.Contains(r.stderr, "gate recall") {
		t.Errorf("remote deploy of the recalled release: %s", r)
	}
	var d struct {
		Version string `json:"version"`
		Picked  *struct {
			Version string `json:"version"`
		} `json:"picked"`
	}
	r = as("dana").must(0, "deploy", "api", "--env", "prod-us", "-o", "json")
	jsonDoc(t, r, &d)
	if d.Version != "1" || d.Picked == nil || d.Picked.Version != "1" || !strings.Contains(r.stderr, "picked api@1") {
		t.Errorf("remote deploy without a version: %+v\n%s", d, r)
	}
	as("dana").must(4, "unrecall", "api@2", "--reason", "fine") // a deployer may not
	as("bob").recall(0, "unrecall", "api@2", "--reason", "fine")
}
