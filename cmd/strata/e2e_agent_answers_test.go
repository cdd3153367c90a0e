package main_test

// What reaches the agent of the server's answers (issue 11 point 5): an answer lost after
// the server committed a claim, and a server older than the agent. `strata agent` talks to
// `strata serve` through answerFake, an HTTP proxy at the agent's edge (the one fake here):
// it drops chosen answers once the server has handled the request, as a cut link or a
// server that died after its commit would, or answers as an older server would.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// answerFake forwards the agent's requests to a server. drop, when set, says which answers
// to cut off (the request was handled; the agent gets a closed connection); refuse, when
// set, answers a request itself, as an older server would (status and message); welcome,
// when set, edits the answer to a register.
type answerFake struct {
	target  string
	drop    func(path string, req, answer map[string]any) bool
	refuse  func(path string, body []byte) (status int, msg string)
	welcome func(answer map[string]any)

	mu      sync.Mutex
	dropped map[string]int
	refused map[string]int
}

func newAnswerFake(t *testing.T, target string, f *answerFake) string {
	f.target, f.dropped, f.refused = target, map[string]int{}, map[string]int{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func (f *answerFake) count(m map[string]int, path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m[path]++
}

// counts returns how many answers of path were dropped and refused.
func (f *answerFake) counts(path string) (dropped, refused int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped[path], f.refused[path]
}

func (f *answerFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if f.refuse != nil {
		if status, msg := f.refuse(r.URL.Path, body); status != 0 {
			f.count(f.refused, r.URL.Path)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "invalid", "message": msg}})
			return
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, f.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header = r.Header.Clone()
	req.Header.Del("Accept-Encoding") // the transport's own: it reads the answer plain
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return
	}
	var reqDoc, ansDoc map[string]any
	json.Unmarshal(body, &reqDoc)
	json.Unmarshal(answer, &ansDoc)
	if f.drop != nil && resp.StatusCode == http.StatusOK && f.drop(r.URL.Path, reqDoc, ansDoc) {
		f.count(f.dropped, r.URL.Path)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	if f.welcome != nil && r.URL.Path == "/api/v1/agent/register" && ansDoc != nil {
		f.welcome(ansDoc)
		answer, _ = json.Marshal(ansDoc)
	}
	for k, vs := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

const answersYAML = `project: answers
environments:
  eu-1: {labels: {region: eu}, runs_on: eu}
  eu-2: {labels: {region: eu}, runs_on: eu}
  eu-3: {labels: {region: eu}, runs_on: eu}
services:
  api:
    deploy: ./deploy.sh
    runbooks:
      reindex: ./ops/reindex.sh
pipeline:
  - stage: prod
    environments: {region: eu}
`

// newAnswersEstate serves answersYAML on SQLite with agents' claims of lease, and returns it
// with the server's URL in url (for the CLI) and the agent token.
func newAnswersEstate(t *testing.T, lease string) *agentEstate {
	e := newEstate(t, answersYAML)
	e.write("deploy.sh", strings.ReplaceAll(deployScript, "@SCRATCH@", e.scratch))
	e.write("ops/reindex.sh", "#!/bin/sh\necho \"$STRATA_ENV $STRATA_RUN\" >> "+e.scratch+"/reindexed\n")
	for _, f := range []string{"deploy.sh", "ops/reindex.sh"} {
		if err := os.Chmod(filepath.Join(e.dir, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	x := &agentEstate{estate: e, keys: filepath.Join(t.TempDir(), "agent-keys"), tokens: map[string]string{}}
	for _, tok := range [][]string{{"eu-agent", "--role", "agent", "--envs", "region=eu"}, {"ops", "--role", "admin"}} {
		x.tokens[tok[0]] = createToken(t, e, tok...).Token
	}
	x.startServer(t, lease)
	return x
}

// promoteThroughFake promotes api@1.0.0 to the three environments of pool eu over the
// server, with one agent that talks to it through f, and returns the agent once the
// promotion ended well.
func promoteThroughFake(t *testing.T, x *agentEstate, f *answerFake) *agentProc {
	x.release("api", "--version", "1.0.0")
	via := *x
	via.url = newAnswerFake(t, x.url, f)
	ag := via.startAgent(t, "eu-1", x.tokens["eu-agent"])
	promoted := x.remote(t, "ops").start("promote", "api@1.0.0", "--to", "prod").wait(t, 90*time.Second)
	log := mustRead(t, ag.stderr)
	if promoted.code != 0 {
		t.Fatalf("the promotion did not succeed:\n%s\n--- agent\n%s", promoted, log)
	}
	return ag
}

// ranOnceEach checks that each environment of pool eu has one deployment, succeeded in
// attempt 1, whose step ran once, and that each was claimed once.
func ranOnceEach(t *testing.T, x *agentEstate) {
	t.Helper()
	ran := map[string]int{}
	for _, r := range x.runs(t) {
		ran[r.env]++
	}
	for _, env := range []string{"eu-1", "eu-2", "eu-3"} {
		ds := find(x.history("api"), "api", env)
		if len(ds) != 1 || ds[0].State != "succeeded" || ds[0].Attempt != 1 {
			t.Errorf("%s deployments %+v; want one, succeeded in attempt 1", env, ds)
		}
		if ran[env] != 1 {
			t.Errorf("deploy.sh ran %d times in %s, want once", ran[env], env)
		}
	}
	if evs := x.events("--action", "agent.claim"); len(evs) != 3 {
		t.Errorf("%d agent.claim events, want 3: one claim a deployment", len(evs))
	}
}

func TestAnAgentWhoseAnswersAreLostRunsEachDeploymentOnceWithoutWaitingForItsLease(t *testing.T) {
	// A lease of 10 minutes: were a lost claim left to lapse, the promotion would not end
	// within the test's wait.
	x := newAnswersEstate(t, "10m")
	hasJob := func(c any) bool {
		m, _ := c.(map[string]any)
		return m != nil && m["job"] != nil
	}
	// armed counts the answers of each path still to drop.
	var mu sync.Mutex
	armed := map[string]int{"/api/v1/agent/claim": 1, "/api/v1/agent/report": 1}
	f := &answerFake{drop: func(path string, req, answer map[string]any) bool {
		lost := (path == "/api/v1/agent/claim" && hasJob(answer)) ||
			(path == "/api/v1/agent/report" && req["next"] == true && hasJob(answer["next"]))
		mu.Lock()
		defer mu.Unlock()
		if !lost || armed[path] == 0 {
			return false
		}
		armed[path]--
		return true
	}}
	ag := promoteThroughFake(t, x, f)
	log := mustRead(t, ag.stderr)
	t.Run("the answer of a claim and of a report that claimed were lost", func(t *testing.T) {
		for _, path := range []string{"/api/v1/agent/claim", "/api/v1/agent/report"} {
			if dropped, _ := f.counts(path); dropped != 1 {
				t.Errorf("%d answers of %s dropped, want 1\n%s", dropped, path, log)
			}
		}
	})
	t.Run("each deployment ran once, in its first attempt, claimed once", func(t *testing.T) { ranOnceEach(t, x) })
	t.Run("a runbook run whose claim's answer was lost runs once", func(t *testing.T) {
		// The agent asks for it with a claim, or with its last report's next claim when the
		// run comes within that report's wait: the first answer that carries it is lost.
		mu.Lock()
		armed["/api/v1/agent/claim"], armed["/api/v1/agent/report"] = 1, 1
		mu.Unlock()
		ran := x.remote(t, "ops").start("run", "api", "reindex", "--env", "eu-1").wait(t, 90*time.Second)
		if ran.code != 0 {
			t.Fatalf("the run did not succeed:\n%s\n--- agent\n%s", ran, mustRead(t, ag.stderr))
		}
		claims, _ := f.counts("/api/v1/agent/claim")
		reports, _ := f.counts("/api/v1/agent/report")
		if claims+reports != 3 {
			t.Errorf("%d claim and %d report answers dropped, want 3 in all (two of deployments, the run's)", claims, reports)
		}
		if lines := strings.Fields(strings.TrimSpace(x.read("reindexed"))); len(lines) != 2 || lines[0] != "eu-1" {
			t.Errorf("reindex.sh ran: %q, want once in eu-1", x.read("reindexed"))
		}
	})
	t.Run("the server gave the claims again", func(t *testing.T) {
		srv := mustRead(t, x.server.stderr)
		if n := strings.Count(srv, "agent given its claim again"); n != 3 {
			t.Errorf("the server gave %d claims again, want 3 (a claim's, a report's, the run's claim)\n%s", n, srv)
		}
		if !strings.Contains(srv, "agent reported again") {
			t.Errorf("the server's log does not say the report came again\n%s", srv)
		}
	})
}

// olderServer refuses, as a server older than the agent's fields would, the fields it did
// not know then: the first unknown one, in the order the body names them, with the known
// fields of that server's request.
func olderServer(known map[string][]string) func(path string, body []byte) (int, string) {
	return func(path string, body []byte) (int, string) {
		fields, ok := known[path]
		if !ok {
			return 0, ""
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if _, err := dec.Token(); err != nil {
			return 0, ""
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return 0, ""
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return 0, ""
			}
			if key, _ := k.(string); !containsString(fields, key) {
				return http.StatusBadRequest, fmt.Sprintf("unknown field %q; known fields: %s", key, strings.Join(fields, ", "))
			}
		}
		return 0, ""
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestAnAgentIsServedByAServerOlderThanIt(t *testing.T) {
	// The fields of a server from before "next" and "kinds" (strata before the report that
	// claims, and before runbooks on agents).
	before := map[string][]string{
		"/api/v1/agent/claim":  {"name", "pool", "wait_seconds"},
		"/api/v1/agent/report": {"name", "pool", "deployment", "fence", "state", "health", "outputs", "error"},
	}
	cases := []struct {
		name string
		// welcome edits the register's answer.
		welcome func(answer map[string]any)
		// refusedReports: whether the agent asks the server a report that claims.
		refusedReports bool
	}{
		{"an older server, which says nothing of report_next, is claimed from without kinds",
			func(a map[string]any) { delete(a, "report_next") }, false},
		{"an older server behind a newer one's welcome is reported to alone, then claimed from without kinds",
			nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newAnswersEstate(t, "30s")
			f := &answerFake{refuse: olderServer(before), welcome: tc.welcome}
			log := mustRead(t, promoteThroughFake(t, x, f).stderr)
			ranOnceEach(t, x)
			if _, refused := f.counts("/api/v1/agent/claim"); refused != 1 {
				t.Errorf("%d claims refused, want 1: the agent claims without kinds after the first\n%s", refused, log)
			}
			_, refused := f.counts("/api/v1/agent/report")
			if want := map[bool]int{true: 1, false: 0}[tc.refusedReports]; refused != want {
				t.Errorf("%d reports refused, want %d\n%s", refused, want, log)
			}
			if !strings.Contains(log, "the server is older than this agent") {
				t.Errorf("the agent's log does not say the server is older\n%s", log)
			}
		})
	}
}

func TestAnAgentSendsARunsOutputWithItsReportOnlyToAServerOlderThanThat(t *testing.T) {
	x := newAnswersEstate(t, "30s")
	x.write("ops/reindex.sh", "#!/bin/sh\necho \"$STRATA_ENV $STRATA_RUN\" >> "+x.scratch+"/reindexed\necho \"reindexed $STRATA_RUN\"\n")
	// A server from before a run's output so far refuses logs of a run as it did.
	f := &answerFake{refuse: func(path string, body []byte) (int, string) {
		var l struct{ Deployment string }
		json.Unmarshal(body, &l)
		if path == "/api/v1/agent/logs" && strings.HasPrefix(l.Deployment, "t-") {
			return http.StatusBadRequest, "the output of run " + l.Deployment + " comes with its report (output), not as logs"
		}
		return 0, ""
	}}
	x.release("api", "--version", "1.0.0")
	via := *x
	via.url = newAnswerFake(t, x.url, f)
	ag := via.startAgent(t, "eu-1", x.tokens["eu-agent"])
	ops := x.remote(t, "ops")
	ops.must(0, "deploy", "api@1.0.0", "--env", "eu-1")
	for i := range 2 {
		d := runDoc(t, ops.must(0, "-o", "json", "run", "api", "reindex", "--env", "eu-1"))
		if d.State != "succeeded" || d.Output != "reindexed "+d.ID+"\n" {
			t.Errorf("run %d: %+v; want succeeded with its whole output, from its report", i+1, d)
		}
	}
	log := mustRead(t, ag.stderr)
	if _, refused := f.counts("/api/v1/agent/logs"); refused != 1 {
		t.Errorf("%d logs of runs refused, want 1: the agent sends a run's output with its report only after the first\n%s", refused, log)
	}
	if !strings.Contains(log, "going on without sending a run's output while it runs") {
		t.Errorf("the agent's log does not say the server is older\n%s", log)
	}
}
