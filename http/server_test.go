package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

// TestErrorsMapToStatusesAndExitCodes: each error code has its HTTP status and the exit
// status the CLI ends with, in headers a client reads back.
func TestErrorsMapToStatusesAndExitCodes(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	x.shipToProd("1.0.0", "alice")
	if err := os.WriteFile(filepath.Join(x.dir, "fail-staging"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name            string
		who             string
		method, path    string
		body            any
		status          int
		exit, code      string
		wantDocument    bool
		messageMentions string
	}{
		{"a success is 200 with exit 0", "victor", "GET", "/api/v1/status", nil, 200, "0", "", true, ""},
		{"an unknown environment is 404 with exit 2 and lists the known ones", "victor", "GET", "/api/v1/config/api?env=nowhere", nil, 404, "2", strata.ENOTFOUND, false, "prod-eu"},
		{"an unknown service is 404 with exit 2", "victor", "GET", "/api/v1/config/web?env=dev", nil, 404, "2", strata.ENOTFOUND, false, "unknown service"},
		{"a missing environment is 400 with exit 2", "alice", "POST", "/api/v1/deployments", map[string]any{"service": "api"}, 400, "2", strata.EINVALID, false, "environment"},
		{"a second open promotion is returned blocked: 409, exit 3, the document and the gate in the headers", "alice", "POST", "/api/v1/promotions", map[string]any{"service": "api", "version": "1.0.0", "to": "prod"}, 409, "3", strata.EBLOCKED, true, "approvals"},
		{"the requester approving their own promotion is 400 with exit 2", "carol", "POST", "/api/v1/promotions/PROMO/approve", nil, 0, "", "", false, ""},
		{"a failed deployment is 422 with exit 1 and its document", "alice", "POST", "/api/v1/deployments", map[string]any{"service": "api", "version": "1.0.0", "env": "staging"}, 422, "1", strata.EFAILED, true, "failed"},
		{"an unfreeze of an open environment is 400", "carol", "DELETE", "/api/v1/freezes/dev", nil, 400, "2", strata.EINVALID, false, "not frozen"},
		{"an unknown deployment is 404", "victor", "GET", "/api/v1/deployments/d-nope", nil, 404, "2", strata.ENOTFOUND, false, "d-nope"},
		{"an unknown route is a JSON 404", "victor", "GET", "/api/v1/nothing", nil, 404, "2", strata.ENOTFOUND, false, "openapi.json"},
	}
	for _, c := range cases {
		if c.status == 0 {
			continue // below, with the promotion's id
		}
		t.Run(c.name, func(t *testing.T) {
			r := x.do(c.who, c.method, c.path, c.body)
			if r.status != c.status || r.header.Get("Strata-Exit") != c.exit {
				t.Fatalf("status %d exit %q, want %d and %s\n%s", r.status, r.header.Get("Strata-Exit"), c.status, c.exit, r.body)
			}
			if got := r.header.Get("Strata-Error-Code"); got != c.code {
				t.Errorf("Strata-Error-Code %q, want %q", got, c.code)
			}
			doc := r.json(t)
			msg := ""
			if c.wantDocument {
				if _, ok := doc["error"].(map[string]any); ok {
					t.Fatalf("body is an error, want the document: %s", r.body)
				}
				msg, _ = url.QueryUnescape(r.header.Get("Strata-Error"))
			} else {
				msg, _ = doc["error"].(map[string]any)["message"].(string)
			}
			if !strings.Contains(msg, c.messageMentions) {
				t.Errorf("message %q does not mention %q", msg, c.messageMentions)
			}
		})
	}
	t.Run("the requester cannot approve their own promotion; someone else can", func(t *testing.T) {
		os.Remove(filepath.Join(x.dir, "fail-staging"))
		id := x.shipToProd("2.0.0", "carol")
		r := x.do("carol", "POST", "/api/v1/promotions/"+id+"/approve", nil)
		if r.status != 400 || r.header.Get("Strata-Exit") != "2" || !strings.Contains(r.body, "cannot approve") {
			t.Fatalf("own approval: status %d exit %s: %s", r.status, r.header.Get("Strata-Exit"), r.body)
		}
		r = x.do("bob", "POST", "/api/v1/promotions/"+id+"/approve", nil)
		if r.status != 200 {
			t.Fatalf("bob's approval: status %d: %s", r.status, r.body)
		}
		var doc report.Promotion
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.State != strata.Succeeded || len(doc.Deployments) != 2 {
			t.Errorf("promotion %s with %d deployments, want succeeded in prod-us and prod-eu", doc.State, len(doc.Deployments))
		}
		p, err := x.store.Promotion(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Approvals) != 1 || p.Approvals[0].Principal != "bob" {
			t.Errorf("approvals %+v, want bob's (the token's name is the principal)", p.Approvals)
		}
	})
}

// TestBadBodies: malformed JSON, unknown fields, wrong types, oversized and empty bodies
// are refused with a JSON error naming the field or the place, and change nothing.
func TestBadBodies(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	big := `{"service": "api", "version": "` + strings.Repeat("x", 2<<20) + `"}`
	cases := []struct {
		name, body string
		status     int
		mentions   string
	}{
		{"malformed JSON names the byte where it breaks", `{"service": "api",, }`, 400, "byte"},
		{"a truncated body says it ends early", `{"service": "api"`, 400, "ends"},
		{"an unknown field is named, with the known ones", `{"service": "api", "verison": "1"}`, 400, `"verison"`},
		{"a field of the wrong type is named", `{"service": 7}`, 400, `"service"`},
		{"a list instead of an object is refused", `[1, 2]`, 400, "object"},
		{"an empty body is refused and lists the fields", ``, 400, "service"},
		{"two documents in one body are refused", `{"service": "api"} {"service": "api"}`, 400, "more than one"},
		{"a body over 1 MiB is a 400 that says the limit", big, 400, "1 MiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := x.do("alice", "POST", "/api/v1/releases", c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			e := r.json(t)["error"].(map[string]any)
			if e["code"] != strata.EINVALID || !strings.Contains(e["message"].(string), c.mentions) {
				t.Errorf("error %v, want invalid mentioning %s", e, c.mentions)
			}
		})
	}
	rels, err := x.store.Releases(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 0 {
		t.Errorf("%d releases recorded by bad requests, want none", len(rels))
	}
}

// TestSecretsNeverLeave: the deploy step prints the secret; no response of any read route,
// no log stream and no server log line holds it, nor any token.
func TestSecretsNeverLeave(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	r := x.do("alice", "POST", "/api/v1/releases", map[string]any{"service": "api", "version": "1.0.0"})
	if r.status != 200 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	dep := x.deploymentIn("dev").ID
	chunks, err := x.store.Logs(t.Context(), dep, 0)
	if err != nil || len(chunks) == 0 {
		t.Fatalf("no output stored for %s (%v)", dep, err)
	}
	bodies := []string{r.body}
	for _, path := range []string{
		"/api/v1/status", "/api/v1/deployments", "/api/v1/deployments/" + dep, "/api/v1/deployments/" + dep + "/logs",
		"/api/v1/deployments/" + dep + "/logs?follow=1", "/api/v1/config/api?env=dev&explain=1", "/api/v1/diff?a=dev&b=staging",
		"/api/v1/audit", "/api/v1/promotions", "/metrics", "/api/v1/environments", "/api/v1/drift",
	} {
		r := x.do("carol", "GET", path, nil)
		if r.status >= 500 {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
		bodies = append(bodies, r.body)
	}
	if !strings.Contains(strings.Join(bodies, ""), "password=***") {
		t.Errorf("the logs do not show the redacted secret (password=***); did the step run?")
	}
	for i, b := range append(bodies, x.log.String()) {
		if strings.Contains(b, x.secret) {
			t.Errorf("response %d holds the secret value", i)
		}
		for name, tok := range x.tokens {
			if strings.Contains(b, tok) {
				t.Errorf("response %d holds %s's token", i, name)
			}
		}
	}
}

// TestLogsFollowLive: ?follow=1 streams a running deployment's output as server-sent
// events as it is written, then an "end" event with the final state. The step runs until
// the test has got its first line through the stream and writes the file "go".
func TestLogsFollowLive(t *testing.T) {
	yaml := strings.Replace(apiYAML, "sleep ${config.SLEEP}", "while [ ! -e go ]; do sleep 0.05; done", 1)
	if yaml == apiYAML {
		t.Fatal("apiYAML's deploy step no longer sleeps ${config.SLEEP}: hold it some other way")
	}
	x := newAPIEstate(t, yaml)
	gate := filepath.Join(x.dir, "go")
	t.Cleanup(func() { os.WriteFile(gate, nil, 0o644) }) // whatever happens
	go x.do("alice", "POST", "/api/v1/releases", map[string]any{"service": "api", "version": "1.0.0"})
	var dep string
	for deadline := time.Now().Add(30 * time.Second); dep == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ds, _ := x.store.Deployments(context.Background(), strata.DeploymentFilter{Environment: "dev"})
		if len(ds) > 0 && ds[0].State == strata.Running {
			dep = ds[0].ID
		}
	}
	if dep == "" {
		t.Fatal("no running deployment in dev")
	}
	// A stream that never brought the line would hold the step, and the test, for ever: a
	// minute bounds it.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", x.url+"/api/v1/deployments/"+dep+"/logs?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+x.tokens["victor"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	var events []string
	var text strings.Builder
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
			events = append(events, event)
		case strings.HasPrefix(line, "data: ") && event == "chunk":
			var c strata.LogChunk
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &c); err != nil {
				t.Fatal(err)
			}
			text.WriteString(c.Data)
			if strings.Contains(text.String(), "deploying api 1.0.0 to dev") {
				os.WriteFile(gate, nil, 0o644) // the line came while the step ran: let it end
			}
		case strings.HasPrefix(line, "data: ") && event == "end":
			if !strings.Contains(line, `"state":"succeeded"`) {
				t.Errorf("end event %s, want state succeeded", line)
			}
		}
	}
	if len(events) < 2 || events[len(events)-1] != "end" {
		t.Fatalf("events %v, want chunks then end", events)
	}
	if !strings.Contains(text.String(), "deploying api 1.0.0 to dev") {
		t.Errorf("streamed output %q lacks the step's line", text.String())
	}
}

// TestMetricsAndHealth: /metrics speaks the Prometheus text format with deployments by
// state, durations, waiting promotions and lease renewals; /healthz answers without a
// token; request logs name the principal, never the token.
func TestMetricsAndHealth(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	x.shipViaAPI("1.0.0", "alice")
	r := x.do("victor", "GET", "/metrics", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{
		`strata_deployments{state="succeeded"} 2`,
		`strata_deployments{state="failed"} 0`,
		`strata_deployment_duration_seconds_bucket{le="+Inf"} 2`,
		`strata_deployment_duration_seconds_count 2`,
		`strata_promotions_waiting 1`,
		`# TYPE strata_lease_renewals_total counter`,
		`# TYPE strata_step_duration_seconds histogram`,
		`strata_step_duration_seconds_count{step="deploy"} 2`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %q:\n%s", want, r.body)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(r.body), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && len(strings.Fields(line)) != 2 {
			t.Errorf("not a metric line: %q", line)
		}
	}
	h := x.do("", "GET", "/healthz", nil)
	if h.status != 200 || h.json(t)["ok"] != true {
		t.Errorf("healthz: %d %s", h.status, h.body)
	}
	logs := x.log.String()
	if !strings.Contains(logs, "principal=victor") || !strings.Contains(logs, "path=/metrics") || !strings.Contains(logs, "status=200") {
		t.Errorf("request log lacks method, path, status or principal:\n%s", logs)
	}
	if strings.Contains(logs, x.tokens["victor"]) {
		t.Error("the request log holds a token")
	}
}

// TestMetricsCountLeaseRenewals: a deployment that outlasts a third of its lease renews it,
// and /metrics counts the renewals.
func TestMetricsCountLeaseRenewals(t *testing.T) {
	x := newAPIEstate(t, strings.Replace(apiYAML, `SLEEP: {type: string, default: "0"}`, `SLEEP: {type: string, default: "0.5"}`, 1))
	e := x.newEngine(x.store)
	e.LeaseTTL = 150 * time.Millisecond
	_, url := x.serve(e, 0)
	if r := x.doAt(url, "alice", "POST", "/api/v1/releases", map[string]any{"service": "api", "version": "1.0.0"}); r.status != 200 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	r := x.doAt(url, "victor", "GET", "/metrics", nil)
	m := regexp.MustCompile(`(?m)^strata_lease_renewals_total (\d+)$`).FindStringSubmatch(r.body)
	if m == nil || m[1] == "0" {
		t.Fatalf("lease renewals not counted after two deployments of 0.5s on a 150ms lease:\n%s", r.body)
	}
}

// TestInternalErrorsStayInTheLog: a failure the user cannot fix is a 500 with a generic
// message; the text is in the server log only.
func TestInternalErrorsStayInTheLog(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	other := x.newEngine(x.store)
	_, base := x.serve(other, 0)
	x.store.Close() // every store call fails from now on
	r := x.doAt(base, "", "GET", "/healthz", nil)
	if r.status != 500 || r.header.Get("Strata-Exit") != "1" {
		t.Fatalf("status %d exit %s: %s", r.status, r.header.Get("Strata-Exit"), r.body)
	}
	msg := r.json(t)["error"].(map[string]any)["message"].(string)
	if strings.Contains(msg, "closed") || !strings.Contains(msg, "server log") {
		t.Errorf("message %q, want a generic one", msg)
	}
	if !strings.Contains(x.log.String(), "internal error") {
		t.Errorf("the server log does not have the error:\n%s", x.log.String())
	}
}

// TestDocumentsAreTheCLIs: the API returns package report's documents, as `-o json` prints them.
func TestDocumentsAreTheCLIs(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	id := x.shipToProd("1.0.0", "alice")
	ctx := t.Context()
	e := x.as("victor")
	want := func(v any, err error) string {
		t.Helper()
		if err != nil && strata.ErrorCode(err) != strata.EBLOCKED {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b) + "\n"
	}
	cases := []struct{ path, want string }{
		{"/api/v1/status", want(report.NewStatus(ctx, e))},
		{"/api/v1/environments", want(report.NewEnvironments(e.Project), nil)},
		{"/api/v1/config/api?env=prod-eu&explain=1", want(report.NewConfig(e.Project, "api", "prod-eu", true))},
		{"/api/v1/deployments", want(report.NewHistory(ctx, e, report.HistoryQuery{}))},
		{"/api/v1/audit?env=dev", want(report.Audit(ctx, x.store, e.Project, strata.EventFilter{Environment: "dev"}, nil))},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			if r := x.do("victor", "GET", c.path, nil); r.body != c.want {
				t.Errorf("got\n%s\nwant\n%s", r.body, c.want)
			}
		})
	}
	t.Run("a promotion is judged now, with what would open its gates", func(t *testing.T) {
		doc := x.do("victor", "GET", "/api/v1/promotions/"+id, nil).json(t)
		if doc["state"] != strata.Waiting {
			t.Fatalf("state %v", doc["state"])
		}
		open := false
		for _, g := range doc["gates"].([]any) {
			g := g.(map[string]any)
			if g["name"] == "approvals" && g["ok"] == false && strings.Contains(g["detail"].(string), "approve") {
				open = true
			}
		}
		if !open {
			t.Errorf("gates %v lack the closed approvals gate saying how to open it", doc["gates"])
		}
	})
	_ = engine.KindDeploy
}
