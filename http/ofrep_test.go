package http_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

const ofrepYAML = `project: shop
environments:
  dev: {labels: {tier: dev}}
  prod: {labels: {tier: prod}}
services:
  api: {deploy: "true"}
flags:
  checkout: {type: boolean, default: false}
`

// ofrepPost posts body to path on base with the token and returns the status and body.
func ofrepPost(t *testing.T, base, token, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, readAll(t, res)
}

func TestOFREPRefusesHostileRequestsWithTheProtocolsCodes(t *testing.T) {
	x := newAPIEstate(t, ofrepYAML)
	tok := makeTokens(t, x.store, []testToken{{"web", strata.RoleClient, []map[string]string{{"name": "prod"}}}})["web"]
	for _, tc := range []struct {
		name, path, body string
		status           int
		want, notWant    string
	}{
		{"a megabyte key is not echoed back", "/ofrep/v1/evaluate/flags/" + strings.Repeat("k", 100000), `{}`, 404, `"errorCode":"FLAG_NOT_FOUND"`, strings.Repeat("k", 200)},
		{"a body over 64 KiB is a parse error", "/ofrep/v1/evaluate/flags/checkout", `{"context": {"a": "` + strings.Repeat("x", 70000) + `"}}`, 400, "PARSE_ERROR", ""},
		{"a targeting key that is not text is an invalid context", "/ofrep/v1/evaluate/flags/checkout", `{"context": {"targetingKey": 42}}`, 400, "INVALID_CONTEXT", ""},
		{"a context of control characters evaluates as any other", "/ofrep/v1/evaluate/flags/checkout", `{"context": {"targetingKey": "\u001b[2J\u0000", "plan": "\u202e"}}`, 200, `"value":false`, ""},
		{"bulk refuses a context that is a list", "/ofrep/v1/evaluate/flags", `{"context": []}`, 400, "INVALID_CONTEXT", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := ofrepPost(t, x.url, tok, tc.path, tc.body)
			if status != tc.status || !strings.Contains(body, tc.want) || (tc.notWant != "" && strings.Contains(body, tc.notWant)) {
				t.Errorf("got %d %.300s; want %d with %s", status, body, tc.status, tc.want)
			}
		})
	}
}

func TestAFlagChangeIsSeenByEveryServerSharingTheStore(t *testing.T) {
	x := newAPIEstate(t, ofrepYAML)
	tok := makeTokens(t, x.store, []testToken{{"web", strata.RoleClient, []map[string]string{{"name": "prod"}}}})["web"]
	_, other := x.serve(x.newEngine(openStore(t, x.dir)), 0)
	for _, base := range []string{x.url, other} {
		if status, body := ofrepPost(t, base, tok, "/ofrep/v1/evaluate/flags/checkout", `{}`); status != 200 || !strings.Contains(body, `"value":false`) {
			t.Fatalf("before the change %s answered %d %s", base, status, body)
		}
	}
	if r := x.do("alice", "POST", "/api/v1/flags/checkout/set", map[string]any{"env": "prod", "value": "true", "reason": "launch"}); r.status != 200 {
		t.Fatalf("set through the first server: %d %s", r.status, r.body)
	}
	// Each server asks the store's flag counter at most every 500 ms; 10 s bounds a hung
	// server, it is not the measure.
	deadline := time.Now().Add(10 * time.Second)
	for _, base := range []string{x.url, other} {
		for {
			_, body := ofrepPost(t, base, tok, "/ofrep/v1/evaluate/flags/checkout", `{}`)
			if strings.Contains(body, `"value":true`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still answers %s", base, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
