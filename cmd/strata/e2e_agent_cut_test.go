package main_test

// Network cuts between an agent and its server (issue 11 point 5): the agent reaches the
// server through a TCP proxy the test can cut and restore. A cut shorter than the lease
// changes nothing; a longer one makes the agent stop its own step, and the deployment is
// claimed again as the next attempt once the link is back.

import (
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy forwards TCP connections to a server until it is cut: then it closes every
// connection it holds and refuses new ones, as a partition would, until restored.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *cutProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// setCut cuts the link (closing what it carries) or restores it.
func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

func TestANetworkCutShorterThanTheLeaseChangesNothing(t *testing.T) {
	x := newAgentEstate(t, "", "4s")
	proxy := newCutProxy(t, strings.TrimPrefix(x.url, "http://"))
	direct := x.url
	x.url = proxy.url() // the agent's way to the server
	ag := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	x.url = direct
	ops := x.remote(t, "ops")
	x.release("api", "--version", "1.0.0")
	x.write("../scratch/hang", "")
	deploying := ops.start("deploy", "api@1.0.0", "--env", "prod-eu", "-o", "json")
	waitFor(t, 30*time.Second, "the step to start", func() bool { return strings.Contains(x.read("runs"), "prod-eu 1.0.0 1 ") })

	// The lease is 4s, renewed every 1.3s: the link is restored as soon as one renewal has
	// failed, well inside the lease.
	proxy.setCut(true)
	waitFor(t, 30*time.Second, "a renewal to fail", func() bool {
		return strings.Contains(mustRead(t, ag.stderr), "msg=renew ")
	})
	proxy.setCut(false)
	os.Remove(x.path("hang"))
	x.write("../scratch/go", "")

	r := deploying.wait(t, 60*time.Second)
	if r.code != 0 {
		t.Fatalf("the deployment did not succeed:\n%s\n--- agent\n%s", r, mustRead(t, ag.stderr))
	}
	ds := find(x.history("api"), "api", "prod-eu")
	if len(ds) != 1 || ds[0].State != "succeeded" || ds[0].Attempt != 1 {
		t.Errorf("prod-eu deployments %+v; want one, succeeded in attempt 1 (the cut changed nothing)", ds)
	}
	if n := strings.Count(x.read("runs"), "prod-eu 1.0.0"); n != 1 {
		t.Errorf("the step ran %d times, want once", n)
	}
}

func TestAnAgentCutOffLongerThanItsLeaseStopsItsStep(t *testing.T) {
	x := newAgentEstate(t, "", "4s")
	proxy := newCutProxy(t, strings.TrimPrefix(x.url, "http://"))
	direct := x.url
	x.url = proxy.url()
	ag := x.startAgent(t, "eu-1", x.tokens["eu-agent"])
	x.url = direct
	ops := x.remote(t, "ops")
	x.release("api", "--version", "1.0.0")
	x.write("../scratch/hang", "")
	deploying := ops.start("deploy", "api@1.0.0", "--env", "prod-eu", "-o", "json")
	var first run
	waitFor(t, 30*time.Second, "attempt 1 to start", func() bool {
		for _, r := range x.runs(t) {
			if r.attempt == 1 {
				first = r
				return true
			}
		}
		return false
	})
	proxy.setCut(true)
	waitFor(t, 30*time.Second, "the agent to stop its own step", func() bool {
		return strings.Contains(mustRead(t, ag.stderr), "the lease could not be renewed; the step was stopped")
	})
	if _, err := os.Stat("/proc/" + itoa(first.pid)); err == nil && !zombie(first.pid) {
		t.Errorf("attempt 1's step (pid %d) still runs after the agent fenced itself", first.pid)
	}
	proxy.setCut(false)

	r := deploying.wait(t, 60*time.Second)
	if r.code != 0 {
		t.Fatalf("the deployment did not succeed:\n%s\n--- agent\n%s", r, mustRead(t, ag.stderr))
	}
	ds := find(x.history("api"), "api", "prod-eu")
	if len(ds) != 1 || ds[0].State != "succeeded" || ds[0].Attempt != 2 {
		t.Errorf("prod-eu deployments %+v; want one, succeeded in attempt 2 after the cut", ds)
	}
	var v verifyDoc
	jsonDoc(t, x.must(0, "audit", "--verify", "-o", "json"), &v)
	if !v.OK {
		t.Errorf("audit --verify: %+v", v)
	}
}
