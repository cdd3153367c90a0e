package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

const flagEstate = `project: shop
environments:
  dev: {labels: {tier: dev}}
  prod-us:
    labels: {tier: prod}
    flags:
      checkout: {default: true}
  prod-eu:
    extends: prod-us
services:
  api:
    build: "true"
    deploy: "true"
pipeline:
  - stage: dev
    environments: [dev]
  - stage: prod
    environments: [prod-us, prod-eu]
flags:
  checkout:
    type: boolean
    default: false
    rules: [{when: {plan: {in: [gold]}}, value: false}]
  search:
    type: boolean
    default: false
    rollout: {percent: 50, value: true}
    requires: {api: ">=1.4.0"}
  theme:
    type: object
    default: {color: blue}
`

type flagEntry struct {
	Key, Variant, Reason, Source, Part, Detail string
	Value                                      any
	Killed                                     bool
}

func listFlags(t *testing.T, e *estate, env string) map[string]flagEntry {
	t.Helper()
	var got []flagEntry
	jsonDoc(t, e.must(0, "-o", "json", "flag", "list", "--env", env), &got)
	out := map[string]flagEntry{}
	for _, f := range got {
		out[f.Key] = f
	}
	return out
}

func TestFlagCommandsChangeFlagsWithGovernanceAndRefuseBadInput(t *testing.T) {
	e := newEstate(t, flagEstate)
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"a value of the wrong type is refused", []string{"flag", "set", "checkout", "maybe", "--env", "dev", "--reason", "r"}, 2},
		{"an unknown flag is refused", []string{"flag", "set", "chekout", "true", "--env", "dev", "--reason", "r"}, 2},
		{"an unknown environment is refused", []string{"flag", "kill", "checkout", "--env", "nowhere", "--reason", "r"}, 2},
		{"a percent outside 0-100 is refused", []string{"flag", "rollout", "search", "101", "--env", "dev"}, 2},
		{"set without a reason is refused", []string{"flag", "set", "checkout", "true", "--env", "dev"}, 2},
		{"an object flag refuses text that is not a JSON object", []string{"flag", "set", "theme", "blue", "--env", "dev", "--reason", "r"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) { e.with(t).must(tc.want, tc.args...) })
	}
	if got := listFlags(t, e, "dev")["checkout"]; got.Value != false || got.Part != "default" {
		t.Fatalf("after refused changes checkout is %+v, want the file's default", got)
	}

	t.Run("the layered default shows where it came from", func(t *testing.T) {
		got := listFlags(t, e, "prod-eu")["checkout"]
		if got.Value != true || !strings.HasSuffix(got.Source, "strata.yaml:7:27") {
			t.Errorf("checkout in prod-eu = %+v, want prod-us's default true from strata.yaml:7:27", got)
		}
		r := e.must(0, "flag", "explain", "checkout", "--env", "prod-eu")
		if !strings.Contains(r.stdout, "default") || !strings.Contains(r.stdout, "strata.yaml:7:27") {
			t.Errorf("explain does not show the default's source:\n%s", r)
		}
	})

	t.Run("set, kill and unkill change what the flag gives", func(t *testing.T) {
		e := e.with(t)
		e.must(0, "flag", "set", "theme", `{"color": "red"}`, "--env", "dev", "--reason", "brand refresh")
		if got := listFlags(t, e, "dev")["theme"]; got.Reason != "STATIC" || got.Part != "set" || got.Value.(map[string]any)["color"] != "red" {
			t.Errorf("theme after set = %+v", got)
		}
		e.must(0, "flag", "kill", "theme", "--env", "dev", "--reason", "contrast bug")
		if got := listFlags(t, e, "dev")["theme"]; got.Reason != "DISABLED" || !got.Killed || got.Value.(map[string]any)["color"] != "blue" {
			t.Errorf("theme after kill = %+v, want the default, DISABLED", got)
		}
		e.must(0, "flag", "unkill", "theme", "--env", "dev")
		if got := listFlags(t, e, "dev")["theme"]; got.Killed || got.Part != "set" {
			t.Errorf("theme after unkill = %+v, want the set value back", got)
		}
		var drift struct {
			Drift []struct{ Environment, Kind, Flag, Detail string }
		}
		jsonDoc(t, e.must(1, "-o", "json", "drift", "--env", "dev"), &drift)
		if len(drift.Drift) != 1 || drift.Drift[0].Kind != "flag" || drift.Drift[0].Flag != "theme" {
			t.Errorf("drift = %+v, want theme's runtime value as kind flag", drift.Drift)
		}
		audit := e.must(0, "-o", "json", "audit", "--env", "dev")
		for _, action := range []string{"flag.set", "flag.kill", "flag.unkill"} {
			if !strings.Contains(audit.stdout, `"`+action+`"`) {
				t.Errorf("the audit log lacks %s:\n%s", action, audit.stdout)
			}
		}
	})

	t.Run("a frozen environment refuses changes but not a kill", func(t *testing.T) {
		e := e.with(t)
		e.must(0, "freeze", "prod-us", "--reason", "holiday")
		r := e.must(3, "flag", "set", "checkout", "false", "--env", "prod-us", "--reason", "r")
		if !strings.Contains(r.stderr, "frozen") {
			t.Errorf("the refusal does not say why:\n%s", r)
		}
		e.must(0, "flag", "kill", "checkout", "--env", "prod-us", "--reason", "incident")
		e.must(0, "unfreeze", "prod-us")
	})
}

func TestFlagChangesWaitForTheApprovalsTheEnvironmentAsks(t *testing.T) {
	e := newEstate(t, strings.Replace(flagEstate, "    labels: {tier: prod}\n", "    labels: {tier: prod}\n    policy: {flag_approvals: 1}\n", 1))
	as := func(who string) *estate {
		c := e.with(t)
		c.env = append(append([]string{}, e.env...), "STRATA_ACTOR="+who)
		return c
	}
	var asked struct {
		Value   any
		Request struct {
			ID, State string
			Needed    int
		}
	}
	jsonDoc(t, as("ann").must(3, "-o", "json", "flag", "set", "checkout", "false", "--env", "prod-eu", "--reason", "dark launch"), &asked)
	if asked.Value != true || asked.Request.ID == "" || asked.Request.State != "waiting" || asked.Request.Needed != 1 {
		t.Fatalf("set in an environment that asks for approvals = %+v, want the flag unchanged and a waiting request", asked)
	}
	if got := listFlags(t, e, "prod-eu")["checkout"]; got.Value != true {
		t.Fatalf("checkout changed before its approval: %+v", got)
	}
	r := e.must(0, "flag", "requests", "--env", "prod-eu")
	if !strings.Contains(r.stdout, asked.Request.ID) {
		t.Errorf("flag requests does not list %s:\n%s", asked.Request.ID, r)
	}
	as("ann").must(2, "flag", "approve", asked.Request.ID)
	as("bob").must(0, "flag", "approve", asked.Request.ID)
	if got := listFlags(t, e, "prod-eu")["checkout"]; got.Value != false || got.Part != "set" {
		t.Errorf("checkout after bob's approval = %+v, want the set value", got)
	}
	as("bob").must(2, "flag", "approve", asked.Request.ID)
	as("ann").must(0, "flag", "kill", "checkout", "--env", "prod-eu", "--reason", "a kill never waits")
	if got := listFlags(t, e, "prod-eu")["checkout"]; !got.Killed {
		t.Errorf("a kill waited for approval: %+v", got)
	}
}

// ofrep posts body to path on url with token and returns the status, headers and body.
func ofrep(t *testing.T, url, token, path, body string, header ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s answered %d with a body that is not JSON: %s", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, resp.Header, doc
}

func TestOFREPServesAClientTokensEnvironment(t *testing.T) {
	e := newEstate(t, flagEstate)
	client := createToken(t, e, "web", "--role", "client", "--env", "prod-eu").Token
	admin := createToken(t, e, "ann", "--role", "admin").Token
	e.must(2, "token", "create", "bad", "--role", "client", "--envs", "tier=prod")
	url := serveFlags(t, e)
	one := func(key, body string) (int, map[string]any) {
		code, _, doc := ofrep(t, url, client, "/ofrep/v1/evaluate/flags/"+key, body)
		return code, doc
	}

	for _, tc := range []struct {
		name, key, body string
		code            int
		field, want     string
	}{
		{"a boolean flag inherited through extends", "checkout", `{"context": {"targetingKey": "u1"}}`, 200, "value", "true"},
		{"a rule match", "checkout", `{"context": {"plan": "gold"}}`, 200, "reason", "TARGETING_MATCH"},
		{"an object flag", "theme", `{}`, 200, "value", `map[color:blue]`},
		{"an unknown flag", "nope", `{}`, 404, "errorCode", "FLAG_NOT_FOUND"},
		{"a body that is not JSON", "checkout", `{"context":`, 400, "errorCode", "PARSE_ERROR"},
		{"a context that is not an object", "checkout", `{"context": [1]}`, 400, "errorCode", "INVALID_CONTEXT"},
		{"a requires flag before its version runs", "search", `{"context": {"targetingKey": "u1"}}`, 200, "reason", "DISABLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, doc := one(tc.key, tc.body)
			if code != tc.code || fmtAny(doc[tc.field]) != tc.want {
				t.Errorf("got %d %v, want %d with %s %s", code, doc, tc.code, tc.field, tc.want)
			}
		})
	}

	t.Run("another role's token is forbidden and a client token reads nothing else", func(t *testing.T) {
		if code, _, _ := ofrep(t, url, admin, "/ofrep/v1/evaluate/flags/checkout", `{}`); code != 403 {
			t.Errorf("an admin token got %d from OFREP, want 403", code)
		}
		if code, _, _ := ofrep(t, url, "strata_nope", "/ofrep/v1/evaluate/flags/checkout", `{}`); code != 401 {
			t.Errorf("a bad token got %d, want 401", code)
		}
		req, _ := http.NewRequest("GET", url+"/api/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("a client token got %d from /api/v1/status, want 403", resp.StatusCode)
		}
	})

	t.Run("bulk evaluation answers 304 while nothing changed", func(t *testing.T) {
		code, h, doc := ofrep(t, url, client, "/ofrep/v1/evaluate/flags", `{"context": {"targetingKey": "u1"}}`)
		if code != 200 || h.Get("ETag") == "" || len(doc["flags"].([]any)) != 3 {
			t.Fatalf("bulk = %d %v %v, want 200 with an ETag and three flags", code, h, doc)
		}
		code, _, _ = ofrep(t, url, client, "/ofrep/v1/evaluate/flags", `{"context": {"targetingKey": "u1"}}`, "If-None-Match", h.Get("ETag"))
		if code != 304 {
			t.Errorf("bulk with the same ETag = %d, want 304", code)
		}
	})

	t.Run("a change and a deployment are seen by the next evaluations, a rollback turns the feature off", func(t *testing.T) {
		e := e.with(t)
		e.must(0, "flag", "kill", "checkout", "--env", "prod-eu", "--reason", "incident")
		waitFor(t, 10*time.Second, "the kill to be served", func() bool {
			_, doc := one("checkout", `{}`)
			return doc["reason"] == "DISABLED" && doc["value"] == true // prod-us's default, inherited
		})
		e.must(0, "release", "api", "--version", "1.3.0")
		e.must(0, "release", "api", "--version", "1.4.0")
		e.must(0, "deploy", "api@1.4.0", "--env", "prod-eu")
		waitFor(t, 10*time.Second, "search to turn on once api 1.4.0 runs", func() bool {
			_, doc := one("search", `{"context": {"targetingKey": "u1"}}`)
			return doc["reason"] == "SPLIT"
		})
		if code, doc := one("search", `{}`); code != 400 || doc["errorCode"] != "TARGETING_KEY_MISSING" {
			t.Errorf("a rollout without a targeting key = %d %v, want 400 TARGETING_KEY_MISSING", code, doc)
		}
		e.must(0, "deploy", "api@1.3.0", "--env", "prod-eu")
		waitFor(t, 10*time.Second, "search to turn off once api 1.3.0 runs again", func() bool {
			_, doc := one("search", `{"context": {"targetingKey": "u1"}}`)
			return doc["reason"] == "DISABLED"
		})
	})
}

// serveFlags starts `strata serve` on e and returns its URL once it listens.
func serveFlags(t *testing.T, e *estate) string {
	t.Helper()
	srv := e.start("serve", "--listen", "127.0.0.1:0", "--tick", "1h")
	var url string
	addr := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)`)
	waitFor(t, 30*time.Second, "the server to listen", func() bool {
		b, _ := os.ReadFile(srv.stderr)
		if m := addr.FindSubmatch(b); m != nil {
			url = "http://" + string(m[1])
			return true
		}
		if srv.ended() {
			t.Fatalf("strata serve ended:\n%s", b)
		}
		return false
	})
	return url
}

func fmtAny(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, x := range m {
			return "map[" + k + ":" + fmtAny(x) + "]"
		}
	}
	return string(b)
}
