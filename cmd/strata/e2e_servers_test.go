package main_test

// End-to-end tests of several servers on one PostgreSQL store (issue 11 point 6): a server
// killed while an agent runs a step does not strand the deployment: an agent given both
// servers goes on through the other and keeps its claim; one given a single server,
// restarted against the other, takes it over when its lease lapses and finishes it. The
// servers' scheduler passes resume a deployment whose owner on another host is gone once.

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// serveAgain starts another `strata serve` on x's store and returns its URL.
func (x *agentEstate) serveAgain(t *testing.T, lease string) (*background, string) {
	srv := x.start("serve", "--listen", "127.0.0.1:0", "--tick", "1s", "--agent-lease", lease)
	addr := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)`)
	var url string
	waitFor(t, 30*time.Second, "the second server to listen", func() bool {
		b, _ := os.ReadFile(srv.stderr)
		if m := addr.FindSubmatch(b); m != nil {
			url = "http://" + string(m[1])
			return true
		}
		if srv.ended() {
			t.Fatalf("the second strata serve ended:\n%s", b)
		}
		return false
	})
	return srv, url
}

func TestAKilledServersDeploymentIsFinishedThroughAnother(t *testing.T) {
	_, store := pgSchema(t)
	x := newAgentEstate(t, store, "3s")
	_, second := x.serveAgain(t, "3s")
	first := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	x.release("api", "--version", "1.0.0")
	x.write("../scratch/hang", "")
	// The CLI on the shared store asks for the deployment and waits for it: it is neither
	// server, so killing one leaves the asker alive.
	deploying := x.start("deploy", "api@1.0.0", "--env", "prod-eu", "-o", "json")
	waitFor(t, 30*time.Second, "attempt 1 to start on the agent", func() bool {
		for _, r := range x.runs(t) {
			if r.env == "prod-eu" && r.attempt == 1 {
				return true
			}
		}
		return false
	})
	if err := x.server.cmd.Process.Kill(); err != nil { // SIGKILL: the first server is gone
		t.Fatal(err)
	}
	x.server.wait(t, 10*time.Second)
	// The agent takes one --server: it is restarted (as its supervisor would) against the
	// second. Its old process is killed too, so that only the new one may claim.
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 10*time.Second)
	x.url = second
	again := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	r := deploying.wait(t, 90*time.Second)
	if r.code != 0 {
		t.Fatalf("the deployment did not succeed:\n%s\n--- agent on the second server\n%s", r, mustRead(t, again.stderr))
	}

	t.Run("it succeeded once, in attempt 2, through the second server", func(t *testing.T) {
		ds := find(x.history("api"), "api", "prod-eu")
		if len(ds) != 1 || ds[0].State != "succeeded" || ds[0].Attempt != 2 || ds[0].Version != "1.0.0" {
			t.Fatalf("prod-eu deployments %+v; want one, 1.0.0 succeeded in attempt 2", ds)
		}
		// The second server ticks every second through the lapsed lease: the deployment is
		// the agent's to take over, never the scheduler's.
		var twos []run
		for _, r := range x.runs(t) {
			if r.env == "prod-eu" && r.attempt == 2 {
				twos = append(twos, r)
			}
		}
		if len(twos) != 1 || !strings.HasPrefix(twos[0].pwd, again.dir) {
			t.Errorf("attempt 2 ran %+v; want once, on the restarted agent under %s", twos, again.dir)
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

func TestAnAgentGivenTwoServersGoesOnThroughTheOtherWhenOneIsKilled(t *testing.T) {
	c, store := pgSchema(t)
	lease := func() int64 {
		var n int64
		if err := c.QueryRow(t.Context(), `SELECT lease_until FROM deployments WHERE environment = 'prod-eu' AND state = 'running'`).Scan(&n); err != nil {
			t.Fatalf("read prod-eu's lease: %v", err)
		}
		return n
	}
	x := newAgentEstate(t, store, "6s")
	_, second := x.serveAgain(t, "6s")
	// The first --server is the one it talks to; the second it fails over to.
	ag := x.startAgent(t, "eu-1", x.tokens["eu-agent"], "--server", second)
	x.release("api", "--version", "1.0.0")
	x.write("../scratch/hang", "")
	deploying := x.start("deploy", "api@1.0.0", "--env", "prod-eu", "-o", "json")
	waitFor(t, 30*time.Second, "attempt 1 to start on the agent", func() bool {
		return strings.Contains(x.read("runs"), "prod-eu 1.0.0 1 ")
	})
	if err := x.server.cmd.Process.Kill(); err != nil { // SIGKILL, mid-step
		t.Fatal(err)
	}
	x.server.wait(t, 10*time.Second)
	before := lease()
	// The lease (6s) is renewed every 2s: the step goes on only if a renewal went through
	// the second server.
	waitFor(t, 30*time.Second, "the agent to go on with the second server", func() bool {
		return strings.Contains(mustRead(t, ag.stderr), "server out of reach; going on with the next")
	})
	waitFor(t, 30*time.Second, "a renewal through the second server", func() bool { return lease() > before })
	os.Remove(x.path("hang"))
	x.write("../scratch/go", "")
	r := deploying.wait(t, 60*time.Second)
	if r.code != 0 {
		t.Fatalf("the deployment did not succeed:\n%s\n--- agent\n%s", r, mustRead(t, ag.stderr))
	}
	// A deployment after the failover is claimed through the second server.
	x.release("api", "--version", "2.0.0")
	if r := x.run("deploy", "api@2.0.0", "--env", "prod-eu", "-o", "json"); r.code != 0 {
		t.Fatalf("the deployment after the failover did not succeed:\n%s\n--- agent\n%s", r, mustRead(t, ag.stderr))
	}

	t.Run("each deployment succeeded once, in its first attempt", func(t *testing.T) {
		ds := find(x.history("api"), "api", "prod-eu")
		if len(ds) != 2 {
			t.Fatalf("prod-eu deployments %+v; want two", ds)
		}
		for _, d := range ds {
			if d.State != "succeeded" || d.Attempt != 1 {
				t.Errorf("deployment %+v; want succeeded in attempt 1 (the claim outlived its server)", d)
			}
		}
		for _, v := range []string{"1.0.0", "2.0.0"} {
			if n := strings.Count(x.read("runs"), "prod-eu "+v+" "); n != 1 {
				t.Errorf("the step of %s ran %d times, want once:\n%s", v, n, x.read("runs"))
			}
		}
	})
	t.Run("the agent kept running, and says where it went", func(t *testing.T) {
		if ag.ended() {
			t.Errorf("the agent ended:\n%s", mustRead(t, ag.stderr))
		}
		if b := mustRead(t, ag.stderr); !strings.Contains(b, "to="+second) {
			t.Errorf("the agent's log does not name the server it went on with:\n%s", b)
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

// onOtherHost returns a command that runs strata with args as x would, under another host
// name (its own UTS namespace): its deployments' owner is on another host, which only a
// lease says is alive. Skips without root or unshare.
func (x *agentEstate) onOtherHost(t *testing.T, host string, args ...string) *exec.Cmd {
	if os.Geteuid() != 0 {
		t.Skip("another host name needs root (unshare --uts); CI runs as root")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("another host name needs unshare (util-linux)")
	}
	cmd := x.command(args...)
	cmd.Path = unshare
	cmd.Args = append([]string{"unshare", "--uts", "sh", "-c", `hostname "$0" && exec "$@"`, host, strataBin}, args...)
	return cmd
}

func TestTwoServersResumeADeploymentWhoseOwnerElsewhereIsGoneOnce(t *testing.T) {
	c, store := pgSchema(t)
	x := newAgentEstate(t, store, "30s")
	// Two servers that make the scheduler's pass every second, on one store.
	x.serveAgain(t, "30s")
	x.serveAgain(t, "30s")
	// prod-us runs where it is asked for, with its key where the servers and the CLI are.
	x.must(0, "secret", "keygen", "prod-us")
	set := x.command("secret", "set", "prod-us", "DB_PASSWORD")
	set.Stdin = strings.NewReader("us-password")
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	x.release("api", "--version", "1.0.0")
	x.write("../scratch/hang", "")
	dead := x.startCmd(x.onOtherHost(t, "elsewhere-1", "deploy", "api@1.0.0", "--env", "prod-us"))
	var hung run
	waitFor(t, 30*time.Second, "attempt 1 to start on the other host", func() bool {
		for _, r := range x.runs(t) {
			if r.env == "prod-us" && r.attempt == 1 {
				hung = r
				return true
			}
		}
		return dead.ended()
	})
	if dead.ended() {
		t.Fatalf("the deploy on the other host ended:\n%s", mustRead(t, dead.stderr))
	}
	if err := dead.cmd.Process.Kill(); err != nil { // SIGKILL: its step is left running
		t.Fatal(err)
	}
	dead.wait(t, 10*time.Second)
	// Its lease (30s, the CLI's) lapses: the row says so at once rather than the test
	// waiting it out.
	if _, err := c.Exec(t.Context(), `UPDATE deployments SET lease_until = 1 WHERE environment = 'prod-us' AND state = 'running'`); err != nil {
		t.Fatal(err)
	}
	var ds []deployment
	waitFor(t, 60*time.Second, "a server to resume and finish the deployment", func() bool {
		ds = find(x.history("api"), "api", "prod-us")
		return len(ds) == 1 && ds[0].State == "succeeded"
	})

	t.Run("it succeeded once, in attempt 2", func(t *testing.T) {
		if ds[0].Attempt != 2 {
			t.Errorf("prod-us deployment %+v; want succeeded in attempt 2", ds[0])
		}
		var twos int
		for _, r := range x.runs(t) {
			if r.env == "prod-us" && r.attempt == 2 {
				twos++
			}
		}
		if twos != 1 {
			t.Errorf("attempt 2 ran %d times, want once", twos)
		}
		if n := len(x.events("--action", "deployment.interrupted", "--env", "prod-us")); n != 1 {
			t.Errorf("%d servers took the deployment over, want one", n)
		}
	})
	t.Run("the dead attempt's step was stopped", func(t *testing.T) {
		if !zombie(hung.pid) {
			t.Errorf("attempt 1's step (pid %d) still runs", hung.pid)
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

func TestSeveralServersAreForTheAgentOnly(t *testing.T) {
	e := newEstate(t, agentYAML)
	cases := []struct {
		name string
		args []string
		env  string
	}{
		{"two --server flags for status are refused", []string{"status", "--server", "http://127.0.0.1:1", "--server", "http://127.0.0.1:2"}, ""},
		{"a comma list in STRATA_SERVER for status is refused", []string{"status"}, "STRATA_SERVER=http://127.0.0.1:1,http://127.0.0.1:2"},
		{"two servers for agent list are refused", []string{"agent", "list", "--server", "http://127.0.0.1:1,http://127.0.0.1:2"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.with(t)
			if c.env != "" {
				r.env = append(slices.Clone(e.env), c.env)
			}
			got := r.run(c.args...)
			if got.code != 2 || !strings.Contains(got.stderr, "names 2 servers") || !strings.Contains(got.stderr, "only strata agent takes several") {
				t.Errorf("want exit 2 saying only the agent takes several:\n%s", got)
			}
		})
	}
	t.Run("a bad URL among an agent's servers is named", func(t *testing.T) {
		got := e.run("agent", "--server", "http://127.0.0.1:1", "--server", "ftp://x", "--token", "t", "--pool", "eu")
		if got.code != 2 || !strings.Contains(got.stderr, `--server "ftp://x"`) {
			t.Errorf("want exit 2 naming the bad --server:\n%s", got)
		}
	})
}
