package main_test

// End-to-end test of several servers on one PostgreSQL store (issue 11 point 6): a server
// killed while an agent runs a step does not strand the deployment; the agent, restarted
// against the other server, takes it over when its lease lapses and finishes it.

import (
	"os"
	"regexp"
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
