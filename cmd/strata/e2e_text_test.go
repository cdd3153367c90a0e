package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/sqlite"
)

// countEvents returns how many events the estate's audit log holds.
func countEvents(t *testing.T, e *estate) int {
	t.Helper()
	var evs []json.RawMessage
	jsonDoc(t, e.must(0, "-o", "json", "audit"), &evs)
	return len(evs)
}

// hasControl reports whether s holds a control character other than tab and newline: what
// must never reach a terminal from stored text.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || r == '\u202E'
	})
}

// TestFreeTextWithControlCharactersIsRefused: every free-text input of the CLI (reasons,
// label values, versions, the acting principal), locally and on a server, refuses control
// characters with exit status 2 and a message naming the flag, and writes nothing; the
// same text without them is accepted.
func TestFreeTextWithControlCharactersIsRefused(t *testing.T) {
	t.Parallel()
	e := newEstate(t, servedEstate)
	e.must(0, "release", "api", "--version", "1.0.0")
	r := e.run("-o", "json", "promote", "api@1.0.0", "--to", "prod")
	if r.code != 3 {
		t.Fatalf("promote to prod: want it waiting on its approval (exit 3)\n%s", r)
	}
	var promo struct{ ID string }
	jsonDoc(t, r, &promo)
	admin := createToken(t, e, "ops", "--role", "admin").Token
	url := serve(t, e)
	remote := e.as(url, admin)

	const esc, bidi, bell = "ok\x1b[2J\x1b]0;owned\a", "fine\u202Eenif", "ding\a"
	cases := []struct {
		name  string
		on    *estate
		args  []string
		env   string // an extra environment variable
		field string
	}{
		{"a freeze reason with an escape sequence", e, []string{"freeze", "dev", "--reason", esc}, "", "--reason"},
		{"a freeze reason with a right-to-left override", e, []string{"freeze", "dev", "--reason", bidi}, "", "--reason"},
		{"a freeze reason that is not UTF-8", e, []string{"freeze", "dev", "--reason", "caf\xe9"}, "", "not UTF-8"},
		{"a reject reason with a bell", e, []string{"reject", promo.ID, "--reason", bell}, "", "--reason"},
		{"an override reason with an escape", e, []string{"promote", "api@1.0.0", "--to", "prod", "--override-window", "--reason", esc}, "", "--reason"},
		{"a label value with an escape", e, []string{"env", "create", "pr-1", "--like", "dev", "--label", "owner=" + esc}, "", "--label owner"},
		{"a label value with a newline", e, []string{"env", "create", "pr-1", "--like", "dev", "--label", "owner=a\nb"}, "", "--label owner"},
		{"a version with an escape", e, []string{"release", "api", "--version", "2.0\x1b[1m"}, "", "--version"},
		{"an --as with an escape", e, []string{"--as", "eve\x1b[31m", "freeze", "dev", "--reason", "ok"}, "", "--as"},
		{"a STRATA_ACTOR with a newline", e, []string{"freeze", "dev", "--reason", "ok"}, "STRATA_ACTOR=eve\nroot", "STRATA_ACTOR"},
		{"a freeze reason on a server", remote, []string{"freeze", "dev", "--reason", esc}, "", "--reason"},
		{"a label value on a server", remote, []string{"env", "create", "pr-1", "--like", "dev", "--label", "owner=" + bidi}, "", "--label owner"},
		{"a reject reason on a server", remote, []string{"reject", promo.ID, "--reason", bell}, "", "--reason"},
	}
	for _, c := range cases {
		t.Run(c.name+" is exit 2 and writes nothing", func(t *testing.T) {
			on := c.on.with(t)
			if c.env != "" {
				cp := *on
				cp.env = append(append([]string{}, on.env...), c.env)
				on = &cp
			}
			before := countEvents(t, e.with(t))
			r := on.run(c.args...)
			if r.code != 2 {
				t.Fatalf("want exit 2\n%s", r)
			}
			if !strings.Contains(r.stderr, c.field) {
				t.Errorf("stderr does not name %s:\n%s", c.field, r.stderr)
			}
			if hasControl(r.stderr) || hasControl(r.stdout) {
				t.Errorf("the refusal prints the character it refuses:\n%q", r.stderr)
			}
			if got, want := countEvents(t, e.with(t)), before; got != want {
				t.Errorf("%d audit events after the refusal, want %d", got, want)
			}
		})
	}
	t.Run("a label with an escape in strata.yaml is a problem at its place", func(t *testing.T) {
		bad := newEstate(t, strings.Replace(servedEstate, "dev: {labels: {tier: dev}}", `dev: {labels: {tier: dev, owner: "a\e[2Jb"}}`, 1))
		r := bad.must(2, "validate")
		if !strings.Contains(r.stderr, "strata.yaml:3:") || !strings.Contains(r.stderr, "label owner") || !strings.Contains(r.stderr, "U+001B") {
			t.Errorf("stderr does not place the label and name the character:\n%s", r.stderr)
		}
	})
	t.Run("a project name with an escape in strata.yaml is a problem at its place", func(t *testing.T) {
		bad := newEstate(t, strings.Replace(servedEstate, "project: shop", `project: "sh\e]0;x\aop"`, 1))
		r := bad.must(2, "validate")
		if !strings.Contains(r.stderr, "strata.yaml:1:10: project: character 3 is U+001B") {
			t.Errorf("stderr does not place the project name and name the character:\n%s", r.stderr)
		}
		if hasControl(r.stderr) {
			t.Errorf("stderr holds the control character:\n%q", r.stderr)
		}
	})
	t.Run("the same text without control characters is kept as written", func(t *testing.T) {
		reason := "incident \"42\"\n\tsee $(id) `id` ${config.X} — 障害"
		e.with(t).must(0, "freeze", "dev", "--reason", reason)
		var f struct{ Reason string }
		var evs []struct {
			Action string
			Detail json.RawMessage
		}
		jsonDoc(t, e.with(t).must(0, "-o", "json", "audit", "--action", "freeze"), &evs)
		if len(evs) != 1 || json.Unmarshal(evs[0].Detail, &f) != nil || f.Reason != reason {
			t.Errorf("the audit log holds %+v, want one freeze with reason %q", evs, reason)
		}
	})
}

// TestAnAuditLogWrittenBeforeTheTextRuleStillReads: events an older strata wrote (a detail
// that is not JSON, an actor with an escape sequence) still give one JSON document with
// -o json, locally and on a server; the text table shows them escaped; the chain verifies.
func TestAnAuditLogWrittenBeforeTheTextRuleStillReads(t *testing.T) {
	t.Parallel()
	e := newEstate(t, servedEstate)
	e.must(0, "freeze", "dev", "--reason", "first")
	st, err := sqlite.Open(filepath.Join(e.dir, ".strata", "state.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []*strata.Event{
		{Actor: "carol", Action: "freeze", Environment: "staging", Detail: json.RawMessage(`{"reason":"stop\x00here"}`)},
		{Actor: "eve\x1b[2J", Action: "unfreeze", Environment: "dev", Detail: json.RawMessage("{\"reason\":\"raw\x00\x1b[31m\"}")},
	} {
		if err := st.AppendEvent(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	// A short-lived environment made before the rule, with an escape in a label value.
	if err := st.CreateEnvironment(context.Background(), &strata.EphemeralEnv{Name: "pr-old", Like: "dev", Labels: map[string]string{"owner": "eve\x1b[2J"}, CreatedBy: "eve"}, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	viewer := createToken(t, e, "viewer", "--role", "viewer").Token
	url := serve(t, e)

	for _, on := range []struct {
		name string
		e    *estate
	}{{"locally", e}, {"on a server", e.as(url, viewer)}} {
		t.Run("-o json audit is one document "+on.name, func(t *testing.T) {
			var evs []map[string]any
			jsonDoc(t, on.e.with(t).must(0, "-o", "json", "audit"), &evs)
			raw := map[any]bool{}
			for _, ev := range evs {
				raw[ev["detail_raw"]] = true
			}
			for _, want := range []string{`{"reason":"stop\x00here"}`, "{\"reason\":\"raw\x00\x1b[31m\"}"} {
				if !raw[want] {
					t.Errorf("no event has detail_raw %q", want)
				}
			}
		})
		t.Run("the text table shows old text escaped "+on.name, func(t *testing.T) {
			r := on.e.with(t).must(0, "audit")
			if hasControl(r.stdout) {
				t.Errorf("the table holds control characters:\n%q", r.stdout)
			}
			if !strings.Contains(r.stdout, `eve\x1b[2J`) || !strings.Contains(r.stdout, `raw\x00\x1b[31m`) {
				t.Errorf("the table does not show the old text escaped:\n%s", r.stdout)
			}
		})
	}
	t.Run("a short-lived environment with such a label still loads", func(t *testing.T) {
		r := e.with(t).must(0, "-o", "json", "env", "list")
		var envs []struct {
			Name   string
			Labels map[string]string
		}
		jsonDoc(t, r, &envs)
		found := false
		for _, env := range envs {
			found = found || (env.Name == "pr-old" && env.Labels["owner"] == "eve\x1b[2J")
		}
		if !found {
			t.Errorf("env list lacks pr-old with its stored label:\n%s", r)
		}
		if strings.Contains(r.stderr, "left out") {
			t.Errorf("pr-old was left out:\n%s", r.stderr)
		}
	})
	t.Run("the chain still verifies", func(t *testing.T) {
		e.with(t).must(0, "audit", "--verify")
	})
}

// TestAReasonWithANULIsRefusedOnPostgres: PostgreSQL text cannot hold a NUL, so a freeze
// reason with one, sent through the API of a server on a PostgreSQL store, was a 500 from
// the database; it is a 400 naming --reason, nothing is written, and text that is only
// unusual goes through PostgreSQL byte for byte.
func TestAReasonWithANULIsRefusedOnPostgres(t *testing.T) {
	t.Parallel()
	c, storeURL := pgSchema(t)
	e := newEstate(t, servedEstate)
	e.env = append(e.env, "STRATA_STORE="+storeURL)
	admin := createToken(t, e, "ops", "--role", "admin").Token
	url := serve(t, e)
	post := func(reason string) (int, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"env": "dev", "reason": reason})
		req, _ := http.NewRequest("POST", url+"/api/v1/freezes", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	events := pgCount(t, c, "events")
	if status, body := post("stop\x00here"); status != 400 || !strings.Contains(body, "--reason") || !strings.Contains(body, "U+0000") {
		t.Fatalf("freeze with a NUL: %d %s, want 400 naming --reason and U+0000", status, body)
	}
	if got := pgCount(t, c, "events"); got != events {
		t.Errorf("%d events after the refusal, want %d", got, events)
	}
	if got := pgCount(t, c, "freezes"); got != 0 {
		t.Errorf("%d freezes after the refusal, want none", got)
	}
	reason := "incident \"42\"\n\tsee $(id) — 障害 🚒"
	if status, body := post(reason); status != 200 {
		t.Fatalf("freeze with unusual text: %d %s", status, body)
	}
	var evs []struct {
		Action string
		Detail struct{ Reason string }
	}
	jsonDoc(t, e.must(0, "-o", "json", "audit", "--action", "freeze"), &evs)
	if len(evs) != 1 || evs[0].Detail.Reason != reason {
		t.Errorf("the audit log holds %+v, want one freeze with reason %q", evs, reason)
	}
}
