// Command agents measures one release promoted through a stage of 1,000 environments whose
// steps run on agents (issue 11, point 7): 4 `strata agent` processes on this machine,
// claiming from a `strata serve` on the estate's SQLite store, against the same promotion
// run locally (the same estate without runs_on, the same --parallel). It reports the wall
// time of each, their ratio (the target: within 1.5), and the CPU the server and the agents
// used besides the promoting command's own. Each run gets fresh estates; the two take turns
// going first. With -against OLD each run measures OLD, a second strata binary, the same
// way too, the two binaries taking turns: a change's before and after in one run.
// bench/README.md keeps the figures.
//
//	go run ./bench/agents [-envs 1000] [-agents 4] [-parallel 4] [-runs 1] [-strata PATH] [-against PATH]
//
// Without -strata it builds cmd/strata first (run it inside the module).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-dev/strata/bench/harness"
)

// options are the command's flags.
type options struct {
	harness.Flags
	against string
	agents  int
}

func main() {
	var o options
	o.Declare(flag.CommandLine, 1000, 4, 1)
	flag.StringVar(&o.against, "against", "", "a second strata binary measured the same way in every run (the before of a change)")
	flag.IntVar(&o.agents, "agents", 4, "agent processes of the pool")
	flag.Parse()
	if _, err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/agents:", err)
		os.Exit(1)
	}
}

// result holds every run's samples of one binary.
type result struct {
	Bin           string
	Local, Agents []harness.Sample
	// Server and Agents are the CPU the server and the agents (their steps included) used
	// during each promotion on agents.
	Server, AgentsCPU []time.Duration
}

// run measures o.Runs runs, printing each and then the medians to w: of the binary under
// test and, with o.against, of that one (the second result).
func run(o options, w io.Writer) ([]*result, error) {
	if o.Envs < 1 || o.agents < 1 || o.Parallel < 1 || o.Runs < 1 {
		return nil, fmt.Errorf("-envs, -agents, -parallel and -runs must be 1 or more")
	}
	work, bin, cleanup, err := o.Setup()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	fmt.Fprintf(w, "agents: %d environments, %d agent(s), --parallel %d, %d run(s), %d CPU(s), load %s\n",
		o.Envs, o.agents, o.Parallel, o.Runs, harness.NumCPU(), harness.LoadAvg())
	results := []*result{{Bin: bin}}
	if o.against != "" {
		// Absolute: each promotion runs in its estate's directory.
		against, err := filepath.Abs(o.against)
		if err != nil {
			return nil, err
		}
		results = append(results, &result{Bin: against})
	}
	for i := range o.Runs {
		for k := range results {
			res := results[(i+k)%len(results)] // the binaries take turns going first
			if err := measure(res, i, filepath.Join(work, fmt.Sprintf("run-%d-%d", i, k)), o, w); err != nil {
				return nil, err
			}
		}
	}
	for _, res := range results {
		ma, ml := harness.Median(res.Agents), harness.Median(res.Local)
		fmt.Fprintf(w, "median of %s: on agents %s (+ cpu %s in the server, %s in the agents), here %s: ratio %.2f (target 1.5), runs' own %.2f; %s per environment beyond here\n",
			filepath.Base(res.Bin), ma, harness.Mid(res.Server).Round(time.Millisecond), harness.Mid(res.AgentsCPU).Round(time.Millisecond), ml, harness.Ratio(ma.Wall, ml.Wall), harness.RunsOwn(res.Agents, res.Local), harness.PerEnv(ma.Wall-ml.Wall, o.Envs))
	}
	return results, nil
}

// measure runs run i of res.Bin in dir: the promotion on agents and here, in turn.
func measure(res *result, i int, dir string, o options, w io.Writer) error {
	bin := res.Bin
	local := filepath.Join(dir, "local")
	if err := harness.WriteEstate(local, o.Envs, 0); err != nil {
		return err
	}
	if _, err := harness.StrataRun(bin, local, "release", "noop", "--version", "1"); err != nil {
		return err
	}
	p, err := startPool(bin, filepath.Join(dir, "pool"), o)
	if err != nil {
		return err
	}
	var server, agents time.Duration
	onAgents := func() (harness.Sample, error) {
		s0, a0 := p.cpu()
		s, out, err := harness.Timed(p.dir, nil, bin, "--server", p.url, "--token", p.ops,
			"promote", "noop@1", "--to", "all", "--parallel", fmt.Sprint(o.Parallel))
		s1, a1 := p.cpu()
		server, agents = s1-s0, a1-a0
		if err != nil {
			return s, err
		}
		return s, harness.CheckSucceeded(out, o.Envs)
	}
	here := func() (harness.Sample, error) { return harness.Promote(bin, local, "1", o.Parallel, o.Envs) }
	a, l, err := harness.InTurn(i, onAgents, here)
	p.stop()
	if err != nil {
		return err
	}
	res.Local, res.Agents = append(res.Local, l), append(res.Agents, a)
	res.Server, res.AgentsCPU = append(res.Server, server), append(res.AgentsCPU, agents)
	fmt.Fprintf(w, "run %d, %s: on agents %s (+ cpu %s in the server, %s in the agents), here %s: ratio %.2f\n",
		i+1, filepath.Base(bin), a, server.Round(time.Millisecond), agents.Round(time.Millisecond), l, harness.Ratio(a.Wall, l.Wall))
	return nil
}

var listening = regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)

// pool is a served estate whose environments run on pool bench, and its agents.
type pool struct {
	dir, url, ops string
	procs         []*exec.Cmd
}

// startPool writes the estate in dir with every environment on pool bench, releases noop
// 1, serves it and starts o.agents agents, each in a directory of its own, and returns once
// every agent registered.
func startPool(bin, dir string, o options) (*pool, error) {
	if err := harness.WriteEstateOn(dir, o.Envs, 0, "bench"); err != nil {
		return nil, err
	}
	if _, err := harness.StrataRun(bin, dir, "release", "noop", "--version", "1"); err != nil {
		return nil, err
	}
	token := func(args ...string) (string, error) {
		out, err := harness.StrataRun(bin, dir, append([]string{"-o", "json", "token", "create"}, args...)...)
		var t struct{ Token string }
		if err == nil {
			err = json.Unmarshal(out, &t)
		}
		return t.Token, err
	}
	agentToken, err := token("bench-agent", "--role", "agent", "--envs", "tier=bench")
	if err != nil {
		return nil, err
	}
	p := &pool{dir: dir}
	if p.ops, err = token("bench-ops", "--role", "admin"); err != nil {
		return nil, err
	}
	srv, logf, err := p.start(dir, "serve", bin, "serve", "--listen", "127.0.0.1:0", "--tick", "1h")
	if err != nil {
		return nil, err
	}
	_ = srv
	for deadline := time.Now().Add(30 * time.Second); p.url == ""; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(logf)
		if m := listening.FindSubmatch(b); m != nil {
			p.url = string(m[1])
		} else if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("strata serve did not listen in 30s:\n%s", harness.Tail(string(b), 2000))
		}
	}
	for k := range o.agents {
		ad := filepath.Join(dir, "..", fmt.Sprintf("agent-%d", k))
		if _, _, err := p.start(ad, "agent", bin, "agent", "--server", p.url, "--token", agentToken, "--pool", "bench",
			"--name", fmt.Sprintf("bench-%d", k), "--dir", filepath.Join(ad, "work"), "--keys", filepath.Join(ad, "keys")); err != nil {
			p.stop()
			return nil, err
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err := harness.StrataRun(bin, dir, "--server", p.url, "--token", p.ops, "-o", "json", "agent", "list")
		var as []any
		if err == nil && json.Unmarshal(out, &as) == nil && len(as) == o.agents {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%d agent(s) did not register in 30s (%v): see %s", o.agents, err, dir)
		}
	}
}

// start starts a long-running strata in dir, its output in dir/NAME.log.
func (p *pool) start(dir, name, bin string, args ...string) (*exec.Cmd, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	logf := filepath.Join(dir, name+".log")
	f, err := os.Create(logf)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, f, f
	// Agents get no STRATA_ settings of this shell: they have no project and no store.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("start strata %s: %w", name, err)
	}
	f.Close()
	p.procs = append(p.procs, cmd)
	return cmd, logf, nil
}

// stop ends the server and the agents (SIGTERM, then SIGKILL after 5s) and waits for them.
func (p *pool) stop() {
	for _, c := range p.procs {
		c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range p.procs {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
	p.procs = nil
}

// cpu is the CPU time the server (the first process) and the agents used so far, their
// steps included.
func (p *pool) cpu() (server, agents time.Duration) {
	for i, c := range p.procs {
		if i == 0 {
			server = procCPU(c.Process.Pid)
		} else {
			agents += procCPU(c.Process.Pid)
		}
	}
	return server, agents
}

// procCPU reads a process's user and system time, and its waited-for children's, from
// /proc (0 where it cannot).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+2:]))
	// After the name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
	var ticks int64
	for _, k := range []int{14, 15, 16, 17} {
		if k-3 < len(f) {
			n, _ := strconv.ParseInt(f[k-3], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / 100
}
