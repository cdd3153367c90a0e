package main_test

// End-to-end tests of agents (issue 11 points 4 and 5): `strata serve` on a project, and
// `strata agent` as a separate process in its own directory with no checkout of the project
// and the only copy of the environment's key, running the deployments of prod-eu.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// agentSecret is prod-eu's DB_PASSWORD: hostile, and never to be seen outside the agent's
// step.
const agentSecret = "agent-s3cret'; $(touch pwned) `id` \"x"

const agentYAML = `project: shop
environments:
  prod-eu:
    labels: {tier: prod, region: eu}
    runs_on: eu
  prod-us:
    labels: {tier: prod, region: us}
services:
  api:
    deploy: ./deploy.sh
    health: {command: "test -n \"$DB_PASSWORD\"", timeout: 5s}
    config:
      DB_PASSWORD: {type: string, secret: true}
pipeline:
  - stage: prod
    environments: [prod-eu]
`

// deployScript records each run (environment, version, attempt, its pid, the working
// directory and the chain of its parents' pids), prints the secret (which must be redacted),
// and, while the file hang exists, makes attempt 1 hang until the file go exists (a minute at
// most).
const deployScript = `#!/bin/sh
chain=""
p=$PPID
while [ "$p" -gt 1 ] 2>/dev/null; do chain="$chain $p"; p=$(cut -d' ' -f4 /proc/$p/stat); done
echo "$STRATA_ENV $STRATA_VERSION $STRATA_ATTEMPT $$ $PWD |$chain" >> @SCRATCH@/runs
echo "deploying with password $DB_PASSWORD"
if [ "$STRATA_ATTEMPT" = 1 ] && [ -f @SCRATCH@/hang ]; then
  i=0; while [ ! -f @SCRATCH@/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
fi
exit 0
`

// agentEstate is a served estate with an agent token and prod-eu's key outside the project.
type agentEstate struct {
	*estate
	url    string
	server *background
	keys   string // the only place prod-eu's identity is
	tokens map[string]string
}

// newAgentEstate serves a new estate on store ("" for SQLite, else a PostgreSQL URL) whose
// agents' claims last lease (serve --agent-lease): short where a test waits for one to lapse,
// the default elsewhere, so that a slow machine never makes an agent fence itself.
func newAgentEstate(t *testing.T, store, lease string) *agentEstate {
	return newAgentEstateOf(t, agentYAML, nil, store, lease)
}

// newAgentEstateOf is newAgentEstate of yaml, with files (executable, by their path in the
// project) written before anything is released.
func newAgentEstateOf(t *testing.T, yaml string, files map[string]string, store, lease string) *agentEstate {
	e := newEstate(t, yaml)
	for name, text := range files {
		e.write(name, strings.ReplaceAll(text, "@SCRATCH@", e.scratch))
		if err := os.Chmod(filepath.Join(e.dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if store != "" {
		e.env = append(e.env, "STRATA_STORE="+store)
	}
	e.write("deploy.sh", strings.ReplaceAll(deployScript, "@SCRATCH@", e.scratch))
	if err := os.Chmod(filepath.Join(e.dir, "deploy.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	x := &agentEstate{estate: e, keys: filepath.Join(t.TempDir(), "agent-keys"), tokens: map[string]string{}}
	withKeys := e.with(t)
	withKeys.env = append(slices.Clone(e.env), "STRATA_KEYS="+x.keys)
	withKeys.must(0, "secret", "keygen", "prod-eu")
	set := withKeys.command("secret", "set", "prod-eu", "DB_PASSWORD")
	set.Stdin = strings.NewReader(agentSecret)
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	for _, tok := range [][]string{
		{"eu-agent", "--role", "agent", "--envs", "region=eu"},
		{"us-agent", "--role", "agent", "--envs", "region=us"},
		{"ops", "--role", "admin"},
	} {
		x.tokens[tok[0]] = createToken(t, e, tok...).Token
	}
	x.startServer(t, lease)
	return x
}

// remote returns the estate as a client of the server with token who.
func (x *agentEstate) remote(t *testing.T, who string) *estate {
	r := x.with(t)
	r.env = append(slices.Clone(x.env), "STRATA_SERVER="+x.url, "STRATA_TOKEN="+x.tokens[who])
	return r
}

// agentProc is a `strata agent` process: its own directory, no project, no STRATA_ settings
// of the test's, and the key directory only it is given.
type agentProc struct {
	*background
	dir string
}

func (x *agentEstate) startAgent(t *testing.T, name, token string, extra ...string) *agentProc {
	dir := t.TempDir()
	a := &estate{t: t, dir: dir, scratch: x.scratch}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			a.env = append(a.env, kv)
		}
	}
	a.env = append(a.env, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	args := append([]string{"agent", "--server", x.url, "--token", token, "--pool", "eu", "--name", name,
		"--dir", filepath.Join(dir, "work"), "--keys", x.keys}, extra...)
	return &agentProc{background: a.start(args...), dir: dir}
}

// runs are the lines deploy.sh wrote: env, version, attempt, pid, $PWD | parent pids.
type run struct {
	env, version string
	attempt, pid int
	pwd          string
	parents      []string
}

func (x *agentEstate) runs(t *testing.T) []run {
	var out []run
	for _, line := range strings.Split(strings.TrimSpace(x.read("runs")), "\n") {
		if line == "" {
			continue
		}
		head, chain, _ := strings.Cut(line, "|")
		f := strings.Fields(head)
		if len(f) != 5 {
			t.Fatalf("bad run line %q", line)
		}
		attempt, _ := strconv.Atoi(f[2])
		pid, _ := strconv.Atoi(f[3])
		out = append(out, run{f[0], f[1], attempt, pid, f[4], strings.Fields(chain)})
	}
	return out
}

func TestAnAgentRunsTheDeploymentsOfItsPool(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) { testAgentRuns(t, "", nil, nil) })
	t.Run("on PostgreSQL", func(t *testing.T) {
		c, url := pgSchema(t)
		// The store keeps the bundle (in chunks): a damaged one is damaged there.
		tamper := func(t *testing.T, rel releaseDoc) {
			// A byte of the script's text (the tar's padding is not content).
			tag, err := c.Exec(t.Context(), `UPDATE bundle_chunks SET data = overlay(data placing '3'::bytea from position('# 2.0.0'::bytea in data) + 2 for 1)
				WHERE upload = (SELECT upload FROM bundles WHERE digest = $1) AND position('# 2.0.0'::bytea in data) > 0`, rel.Bundle)
			if err != nil || tag.RowsAffected() != 1 {
				t.Fatalf("corrupt the stored bundle: %v (%v rows)", err, tag)
			}
		}
		testAgentRuns(t, url, tamper, func(t *testing.T, s string) int {
			var n int
			err := c.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM logs WHERE data LIKE '%'||$1||'%')
				+ (SELECT count(*) FROM deployments WHERE coalesce(job, '') || coalesce(config, '') || error LIKE '%'||$1||'%')
				+ (SELECT count(*) FROM events WHERE coalesce(convert_from(detail, 'UTF8'), '') LIKE '%'||$1||'%')`, s).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n
		})
	})
}

// testAgentRuns is the agent's main path on store; tamper, when set, damages a release's
// bundle where the store keeps it (nil: the files beside SQLite); inStore, when set, counts
// the rows of the store's tables that hold a string.
func testAgentRuns(t *testing.T, store string, tamper func(t *testing.T, rel releaseDoc), inStore func(t *testing.T, s string) int) {
	x := newAgentEstate(t, store, "30s")
	ops := x.remote(t, "ops")
	x.release("api", "--version", "1.0.0")
	promoting := ops.start("promote", "api@1.0.0", "--to", "prod", "-o", "json")
	t.Run("with no agent connected the deployment waits pending, and status says so", func(t *testing.T) {
		var st struct {
			Cells []struct {
				Environment, State, Detail string
			} `json:"cells"`
		}
		waitFor(t, 30*time.Second, "prod-eu pending", func() bool {
			jsonDoc(t, ops.must(0, "status", "-o", "json"), &st)
			for _, c := range st.Cells {
				if c.Environment == "prod-eu" && c.State == "pending" {
					return true
				}
			}
			return false
		})
		for _, c := range st.Cells {
			if c.Environment == "prod-eu" && c.Detail != "waiting for an agent of pool eu; none connected" {
				t.Errorf("prod-eu detail %q", c.Detail)
			}
		}
		if text := ops.must(0, "status").stdout; !strings.Contains(text, "(pending: waiting for an agent of pool eu; none connected)") {
			t.Errorf("status:\n%s", text)
		}
	})
	ag := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	promoted := promoting.wait(t, 60*time.Second)
	if promoted.code != 0 {
		t.Fatalf("the promotion did not succeed:\n%s\n--- agent\n%s", promoted, mustRead(t, ag.stderr))
	}

	ds := find(x.history("api"), "api", "prod-eu")
	t.Run("the deployment succeeded once, in the agent's process tree and directory", func(t *testing.T) {
		if len(ds) != 1 || ds[0].State != "succeeded" || ds[0].Attempt != 1 {
			t.Fatalf("prod-eu deployments %+v; want one, succeeded in attempt 1\n%s", ds, promoted)
		}
		var ran []run
		for _, r := range x.runs(t) {
			if r.env == "prod-eu" {
				ran = append(ran, r)
			}
		}
		if len(ran) != 1 {
			t.Fatalf("deploy.sh ran %d times in prod-eu, want once", len(ran))
		}
		if !strings.HasPrefix(ran[0].pwd, ag.dir) {
			t.Errorf("the step ran in %s, not under the agent's directory %s", ran[0].pwd, ag.dir)
		}
		if !slices.Contains(ran[0].parents, strconv.Itoa(ag.cmd.Process.Pid)) {
			t.Errorf("the step's parents %v do not hold the agent (pid %d)", ran[0].parents, ag.cmd.Process.Pid)
		}
	})
	t.Run("its logs arrived, the secret redacted on the agent", func(t *testing.T) {
		logs := x.must(0, "logs", ds[0].ID).stdout
		if !strings.Contains(logs, "deploying with password ***") || strings.Contains(logs, "s3cret") {
			t.Errorf("logs:\n%s", logs)
		}
	})
	t.Run("the secret is nowhere on the server's side", func(t *testing.T) {
		srv, _ := os.ReadFile(x.server.stderr)
		if bytes.Contains(srv, []byte("s3cret")) {
			t.Errorf("the server's log holds the secret")
		}
		for _, f := range []string{"state.db", "state.db-wal"} {
			if b, _ := os.ReadFile(filepath.Join(x.dir, ".strata", f)); bytes.Contains(b, []byte("s3cret")) {
				t.Errorf("the store's %s holds the secret", f)
			}
		}
		for _, args := range [][]string{{"history", "api", "-o", "json"}, {"config", "api", "--env", "prod-eu", "-o", "json"}, {"audit", "-o", "json"}} {
			if r := ops.run(args...); strings.Contains(r.stdout+r.stderr, "s3cret") {
				t.Errorf("%v over the API shows the secret", args)
			}
		}
		if inStore != nil {
			if n := inStore(t, "deploying with password"); n == 0 {
				t.Errorf("the store's check finds not even the redacted output: it could not see a secret either")
			}
			if n := inStore(t, "s3cret"); n != 0 {
				t.Errorf("%d rows of the store hold the secret", n)
			}
		}
		if filesHolding(t, x.dir, "s3cret") != nil {
			t.Errorf("a file of the project holds the secret: %v", filesHolding(t, x.dir, "s3cret"))
		}
	})
	t.Run("agent list shows the agent and its pool", func(t *testing.T) {
		var agents []struct {
			Name           string    `json:"name"`
			Pool           string    `json:"pool"`
			Version        string    `json:"version"`
			ConnectedSince time.Time `json:"connected_since"`
			LastSeen       time.Time `json:"last_seen"`
			Running        []string  `json:"running"`
		}
		jsonDoc(t, ops.must(0, "agent", "list", "-o", "json"), &agents)
		if len(agents) != 1 || agents[0].Name != "eu-1" || agents[0].Pool != "eu" || agents[0].Running == nil || agents[0].ConnectedSince.IsZero() {
			t.Errorf("agent list: %+v", agents)
		}
	})
	t.Run("the audit log holds", func(t *testing.T) {
		var v verifyDoc
		jsonDoc(t, x.must(0, "audit", "--verify", "-o", "json"), &v)
		if !v.OK {
			t.Errorf("audit --verify: %+v", v)
		}
	})
	t.Run("a bundle that is not what was released is refused before anything runs", func(t *testing.T) {
		// A new script, so a new bundle, which the agent has not fetched yet.
		x.write("deploy.sh", strings.ReplaceAll(deployScript, "@SCRATCH@", x.scratch)+"# 2.0.0\n")
		rel := x.release("api", "--version", "2.0.0")
		if tamper != nil {
			tamper(t, rel)
		} else {
			copyOf := filepath.Join(x.dir, ".strata", "recipes", strings.TrimPrefix(rel.Recipe, "sha256:"), "deploy.sh")
			if err := os.Chmod(copyOf, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(copyOf, []byte("#!/bin/sh\necho tampered >> "+x.path("runs")+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		r := ops.run("deploy", "api@2.0.0", "--env", "prod-eu", "-o", "json")
		var d deployment
		jsonDoc(t, r, &d)
		if r.code != 1 || d.State != "rolled_back" || !strings.Contains(d.Error, "refused before anything ran") {
			t.Errorf("want exit 1, rolled back, refused before anything ran:\n%s", r)
		}
		// The rollback (rollback: previous is the default) went to the pool too.
		ds := find(x.history("api", "--env", "prod-eu"), "api", "prod-eu")
		if len(ds) == 0 || ds[0].Kind != "rollback" || ds[0].Version != "1.0.0" || ds[0].State != "succeeded" {
			t.Errorf("the newest deployment %+v; want the rollback to 1.0.0, succeeded", ds)
		}
		if strings.Contains(x.read("runs"), "tampered") || strings.Contains(x.read("runs"), "2.0.0") {
			t.Errorf("a step of 2.0.0 ran:\n%s", x.read("runs"))
		}
	})
	t.Run("an agent whose token covers no environment of its pool is refused, and audited", func(t *testing.T) {
		bad := x.startAgent(t, "intruder", x.tokens["us-agent"])
		r := bad.wait(t, 30*time.Second)
		if r.code != 4 || !strings.Contains(r.stderr, "does not cover any environment of pool eu") {
			t.Errorf("want exit 4 naming the pool:\n%s", r)
		}
		if evs := x.events("--action", "request.denied", "--actor", "us-agent"); len(evs) == 0 {
			t.Errorf("the refusal is not in the audit log")
		}
	})
	t.Run("an agent older than the server's protocol is told both versions", func(t *testing.T) {
		old := x.startAgent(t, "old", x.tokens["eu-agent"], "--protocol", "0")
		r := old.wait(t, 30*time.Second)
		if r.code != 2 || !strings.Contains(r.stderr, "protocol 0") || !strings.Contains(r.stderr, "protocol 1") {
			t.Errorf("want exit 2 naming protocols 0 and 1:\n%s", r)
		}
	})
	t.Run("an agent token reads nothing else", func(t *testing.T) {
		r := x.remote(t, "eu-agent").run("status")
		if r.code != 4 {
			t.Errorf("status with an agent token: want exit 4\n%s", r)
		}
	})
}

func TestAKilledAgentsDeploymentIsTakenOverAfterItsLease(t *testing.T) {
	x := newAgentEstate(t, "", "3s")
	ops := x.remote(t, "ops")
	first := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	x.release("api", "--version", "1.0.0")
	x.write("../scratch/hang", "")
	deploying := ops.start("deploy", "api@1.0.0", "--env", "prod-eu", "-o", "json")
	var hung run
	waitFor(t, 30*time.Second, "attempt 1 to start on the first agent", func() bool {
		for _, r := range x.runs(t) {
			if r.env == "prod-eu" && r.attempt == 1 {
				hung = r
				return true
			}
		}
		return false
	})
	if err := first.cmd.Process.Kill(); err != nil { // SIGKILL: no goodbye
		t.Fatal(err)
	}
	first.wait(t, 10*time.Second)
	second := x.startAgent(t, "eu-2", x.tokens["eu-agent"])
	r := deploying.wait(t, 60*time.Second)
	if r.code != 0 {
		t.Fatalf("the deployment did not succeed:\n%s\n--- second agent\n%s", r, mustRead(t, second.stderr))
	}
	var d deployment
	jsonDoc(t, r, &d)

	t.Run("it succeeded once, in attempt 2 on the second agent", func(t *testing.T) {
		ds := find(x.history("api"), "api", "prod-eu")
		if len(ds) != 1 || ds[0].State != "succeeded" || ds[0].Attempt != 2 {
			t.Fatalf("prod-eu deployments %+v; want one, succeeded in attempt 2", ds)
		}
		var twos []run
		for _, r := range x.runs(t) {
			if r.env == "prod-eu" && r.attempt == 2 {
				twos = append(twos, r)
			}
		}
		if len(twos) != 1 || !strings.HasPrefix(twos[0].pwd, second.dir) {
			t.Errorf("attempt 2 ran %+v; want once, under %s", twos, second.dir)
		}
	})
	t.Run("the dead agent's step was stopped, not left running beside the next", func(t *testing.T) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", hung.pid)); err == nil {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", hung.pid))
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && stat[i+2] != 'Z' {
				t.Errorf("attempt 1's step (pid %d) still runs", hung.pid)
			}
		}
	})
	t.Run("a report with the first claim's fence is refused", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"name": "eu-1", "pool": "eu", "deployment": d.ID, "fence": 1, "state": "failed", "error": "late"})
		req, _ := http.NewRequest("POST", x.url+"/api/v1/agent/report", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+x.tokens["eu-agent"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("status %d, want 409", resp.StatusCode)
		}
		if ds := find(x.history("api"), "api", "prod-eu"); ds[0].State != "succeeded" {
			t.Errorf("the late report changed the deployment: %+v", ds[0])
		}
	})
	t.Run("the audit log holds", func(t *testing.T) {
		var v verifyDoc
		jsonDoc(t, x.must(0, "audit", "--verify", "-o", "json"), &v)
		if !v.OK {
			t.Errorf("audit --verify: %+v", v)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// zombie reports whether pid is a zombie (dead, not yet reaped).
func zombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// startServer starts `strata serve` on the estate's store with agents' leases of lease, and
// waits until it listens (x.url).
func (x *agentEstate) startServer(t *testing.T, lease string) {
	t.Helper()
	x.server = x.start("serve", "--listen", "127.0.0.1:0", "--tick", "1h", "--agent-lease", lease)
	addr := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)`)
	waitFor(t, 30*time.Second, "the server to listen", func() bool {
		b, _ := os.ReadFile(x.server.stderr)
		if m := addr.FindSubmatch(b); m != nil {
			x.url = "http://" + string(m[1])
			return true
		}
		if x.server.ended() {
			t.Fatalf("strata serve ended:\n%s", b)
		}
		return false
	})
}
