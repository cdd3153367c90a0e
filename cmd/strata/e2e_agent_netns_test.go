package main_test

// Partition tests of agents (issue 11 point 8): the agent runs in its own network namespace
// that reaches the servers only through a veth pair on a private /30, the servers listening
// on the host's end. The link is cut (`ip link set ... down`) and restored mid-step, the agent
// and a server are killed -9 mid-step; each time every environment ends on the new version
// with one succeeded deployment, no step of an environment runs while another does (the
// steps take a lock and say when they could not), and the audit log holds. They need root
// and `ip`, and skip without them; CI runs as root.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// netns is a network namespace whose only way out is a veth pair: HostIP is the host's end
// (where the servers listen), NSIP the namespace's.
type netns struct {
	Name, host, HostIP, NSIP string
}

// newNetns makes a namespace with a unique name (other tests may make theirs at the same
// time) and removes it when t ends, whatever happened.
func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partition tests need root to make network namespaces (ip netns); CI runs as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("partition tests need ip (iproute2) to make network namespaces")
	}
	sweepNetns.Do(removeStaleNetns)
	b := make([]byte, 4)
	rand.Read(b)
	id := hex.EncodeToString(b[:3])
	// The name carries this process's id, so that a later run can tell a namespace whose
	// test process was killed (kill -9 runs no cleanup) from one another test process uses.
	n := &netns{Name: fmt.Sprintf("%s%d-%s", netnsPrefix, os.Getpid(), id), host: "sth" + id}
	peer := "stn" + id
	// A /30 of 10.200.0.0/13 picked at random: .1 the host's end, .2 the namespace's.
	prefix := fmt.Sprintf("10.%d.%d.", 200+b[0]%8, b[1])
	n.HostIP, n.NSIP = prefix+fmt.Sprint(b[2]&^3+1), prefix+fmt.Sprint(b[2]&^3+2)
	// Cleaned up first of all (registered before anything exists), last in order: after the
	// processes inside are gone.
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.Name).Run()
		exec.Command("ip", "link", "del", n.host).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", n.Name},
		{"link", "add", n.host, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", n.Name},
		{"addr", "add", n.HostIP + "/30", "dev", n.host},
		{"link", "set", n.host, "up"},
		{"-n", n.Name, "addr", "add", n.NSIP + "/30", "dev", peer},
		{"-n", n.Name, "link", "set", peer, "up"},
		{"-n", n.Name, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("cannot make a network namespace here (ip %s: %v: %s)", strings.Join(args, " "), err, out)
		}
	}
	return n
}

// netnsPrefix starts the name of every namespace these tests make.
const netnsPrefix = "strata-e2e-"

// sweepNetns removes stale namespaces once per test process.
var sweepNetns sync.Once

// removeStaleNetns removes the namespaces (and with them their veth pairs) that test
// processes which are gone left behind: each name holds its maker's process id, and one
// without (the names of earlier versions of these tests) is stale too.
func removeStaleNetns() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(name, netnsPrefix) {
			continue
		}
		pid, _, withPID := strings.Cut(strings.TrimPrefix(name, netnsPrefix), "-")
		if n, err := strconv.Atoi(pid); withPID && err == nil && processLives(n) {
			continue
		}
		exec.Command("ip", "netns", "del", name).Run()
	}
}

// processLives reports whether a process with id pid exists (signal 0 checks, sends nothing).
func processLives(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// setLink cuts (up false) or restores the namespace's link.
func (n *netns) setLink(t *testing.T, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if out, err := exec.Command("ip", "link", "set", n.host, state).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s %s: %v: %s", n.host, state, err, out)
	}
}

const partitionYAML = `project: part
environments:
  eu-1: {labels: {region: eu}, runs_on: eu}
  eu-2: {labels: {region: eu}, runs_on: eu}
  eu-3: {labels: {region: eu}, runs_on: eu}
services:
  api:
    deploy: ./deploy.sh
pipeline:
  - stage: prod
    environments: {region: eu}
`

// partitionScript holds a lock per environment while it runs and writes to overlap when it
// could not take it (another step of the environment still ran); it records each run (with
// the network namespace it ran in); the
// first attempt that takes the file hang waits until the file go exists (90s at most).
const partitionScript = `#!/bin/sh
S=@SCRATCH@
exec 9>"$S/lock-$STRATA_ENV"
flock -n 9 || echo "$STRATA_ENV $STRATA_ATTEMPT" >> "$S/overlap"
echo "$STRATA_ENV $STRATA_VERSION $STRATA_ATTEMPT $$ $(readlink /proc/$$/ns/net)" >> "$S/runs"
if [ "$STRATA_ATTEMPT" = 1 ] && mv "$S/hang" "$S/hung-$STRATA_ENV" 2>/dev/null; then
  i=0; while [ ! -f "$S/go" ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done
fi
exit 0
`

// partitioned is an estate on PostgreSQL with two servers on the host's end of ns's link,
// and agents in ns.
type partitioned struct {
	*estate
	ns      *netns
	servers []*background
	urls    []string
	token   string
}

func newPartitioned(t *testing.T, lease string) *partitioned {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("partition tests need flock (util-linux): their steps take a lock to see overlaps")
	}
	ns := newNetns(t)
	_, store := pgSchema(t)
	e := newEstate(t, partitionYAML)
	e.env = append(e.env, "STRATA_STORE="+store)
	e.write("deploy.sh", strings.ReplaceAll(partitionScript, "@SCRATCH@", e.scratch))
	if err := os.Chmod(filepath.Join(e.dir, "deploy.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	x := &partitioned{estate: e, ns: ns, token: createToken(t, e, "eu-agent", "--role", "agent", "--envs", "region=eu").Token}
	addr := regexp.MustCompile(`on http://(` + regexp.QuoteMeta(ns.HostIP) + `:\d+)`)
	for range 2 {
		srv := e.start("serve", "--listen", ns.HostIP+":0", "--tick", "1s", "--agent-lease", lease)
		waitFor(t, 30*time.Second, "a server to listen on "+ns.HostIP, func() bool {
			b, _ := os.ReadFile(srv.stderr)
			if m := addr.FindSubmatch(b); m != nil {
				x.urls = append(x.urls, "http://"+string(m[1]))
				return true
			}
			if srv.ended() {
				t.Fatalf("strata serve ended:\n%s", b)
			}
			return false
		})
		x.servers = append(x.servers, srv)
	}
	return x
}

// startAgent starts `strata agent` inside the namespace, given both servers, in a directory
// of its own with no project and none of the test's STRATA_ settings.
func (x *partitioned) startAgent(t *testing.T, name string) *agentProc {
	dir := t.TempDir()
	a := &estate{t: t, dir: dir, scratch: x.scratch}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			a.env = append(a.env, kv)
		}
	}
	a.env = append(a.env, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	cmd := a.command("agent", "--server", x.urls[0], "--server", x.urls[1], "--token", x.token, "--pool", "eu",
		"--name", name, "--dir", filepath.Join(dir, "work"), "--keys", filepath.Join(dir, "keys"))
	// ip netns exec runs strata in the namespace (it execs: the pid is the agent's).
	cmd.Path, _ = exec.LookPath("ip")
	cmd.Args = append([]string{"ip", "netns", "exec", x.ns.Name}, cmd.Args...)
	return &agentProc{background: a.startCmd(cmd), dir: dir}
}

func TestPartitionsAndKillsMidStepLoseNothingAndRunNothingTwice(t *testing.T) {
	cases := []struct {
		name  string
		lease string
		// attempt is the attempt in which the hung environment's deployment succeeds.
		attempt int
		// hit does its harm while the hung step runs and undoes what needs undoing; it may
		// return the agent that goes on.
		hit func(t *testing.T, x *partitioned, ag *agentProc) *agentProc
	}{
		{"a cut shorter than the lease changes nothing", "12s", 1, func(t *testing.T, x *partitioned, ag *agentProc) *agentProc {
			x.ns.setLink(t, false)
			waitFor(t, 60*time.Second, "a renewal to fail", func() bool { return strings.Contains(mustRead(t, ag.stderr), "msg=renew ") })
			x.ns.setLink(t, true)
			x.write("../scratch/go", "")
			return ag
		}},
		{"a cut longer than the lease makes the agent stop its step, and the next attempt runs once the link is back", "6s", 2, func(t *testing.T, x *partitioned, ag *agentProc) *agentProc {
			x.ns.setLink(t, false)
			waitFor(t, 60*time.Second, "the agent to stop its own step", func() bool {
				return strings.Contains(mustRead(t, ag.stderr), "the lease could not be renewed; the step was stopped")
			})
			x.ns.setLink(t, true)
			return ag
		}},
		{"an agent killed -9 is replaced, and its dead step is stopped before the next attempt", "6s", 2, func(t *testing.T, x *partitioned, ag *agentProc) *agentProc {
			if err := ag.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			ag.wait(t, 10*time.Second)
			return x.startAgent(t, "eu-b")
		}},
		{"a server killed -9 is left for the other", "6s", 1, func(t *testing.T, x *partitioned, ag *agentProc) *agentProc {
			if err := x.servers[0].cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			x.servers[0].wait(t, 10*time.Second)
			waitFor(t, 60*time.Second, "the agent to go on with the other server", func() bool {
				return strings.Contains(mustRead(t, ag.stderr), "going on with the next")
			})
			x.write("../scratch/go", "")
			return ag
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := newPartitioned(t, c.lease)
			ag := x.startAgent(t, "eu-a")
			x.release("api", "--version", "1.0.0")
			x.write("../scratch/hang", "")
			// The CLI on the shared store runs the promotion: neither server, nor the agent.
			promoting := x.start("promote", "api@1.0.0", "--to", "prod", "-o", "json")
			var hung string
			waitFor(t, 60*time.Second, "a step to hang mid-step", func() bool {
				m, _ := filepath.Glob(filepath.Join(x.scratch, "hung-*"))
				if len(m) == 1 {
					hung = strings.TrimPrefix(filepath.Base(m[0]), "hung-")
				}
				return len(m) == 1
			})
			ag = c.hit(t, x, ag)
			r := promoting.wait(t, 120*time.Second)
			if r.code != 0 {
				t.Fatalf("the promotion did not succeed:\n%s\n--- agent\n%s", r, mustRead(t, ag.stderr))
			}
			ds := x.history("api")
			for _, env := range []string{"eu-1", "eu-2", "eu-3"} {
				got := find(ds, "api", env)
				want := 1
				if env == hung {
					want = c.attempt
				}
				if len(got) != 1 || got[0].State != "succeeded" || got[0].Version != "1.0.0" || got[0].Attempt != want {
					t.Errorf("%s: deployments %+v; want one, 1.0.0 succeeded in attempt %d", env, got, want)
				}
			}
			inside, err := exec.Command("ip", "netns", "exec", x.ns.Name, "readlink", "/proc/self/ns/net").Output()
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(x.read("runs")), "\n") {
				if !strings.HasSuffix(line, " "+strings.TrimSpace(string(inside))) {
					t.Errorf("a step ran outside the agent's namespace %s: %q", inside, line)
				}
			}
			if b, err := os.ReadFile(x.path("overlap")); err == nil {
				t.Errorf("steps of one environment ran at the same time (environment, attempt):\n%s", b)
			}
			var v verifyDoc
			jsonDoc(t, x.must(0, "audit", "--verify", "-o", "json"), &v)
			if !v.OK {
				t.Errorf("audit --verify: %+v", v)
			}
		})
	}
}
