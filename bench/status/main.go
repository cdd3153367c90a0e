// Command status measures `strata serve` answering GET /api/v1/status to many pollers at
// once on a large estate (issue 14, point 1): by default 10,000 environments x 5 services,
// every pair deployed, 20 clients each asking again as soon as it has its answer, for 30
// seconds, while a deployment ends every second somewhere in the estate (so the matrix
// changes as it does in life). The baseline, in the same run, is the same clients polling
// GET /healthz (the server's HTTP and authentication-free floor) for the same time. It
// reports requests per second, p50/p99/max latency, the bytes of an answer, and the
// server's peak resident memory (VmHWM). bench/README.md keeps the figures.
//
//	go run ./bench/status [-envs 10000] [-services 5] [-clients 20] [-duration 30s] [-strata PATH]
//
// Without -strata it builds cmd/strata first (run it inside the module).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/bench/harness"
	"github.com/strata-dev/strata/sqlite"
)

// options are the command's flags.
type options struct {
	strata          string
	envs, services  int
	clients         int
	duration, churn time.Duration
	baseline        time.Duration
	work            string
	keep, noGzip    bool
	writers         int
}

func main() {
	var o options
	flag.StringVar(&o.strata, "strata", "", "strata binary to measure (default: build ./cmd/strata)")
	flag.IntVar(&o.envs, "envs", 10000, "environments in the estate")
	flag.IntVar(&o.services, "services", 5, "services in the estate")
	flag.IntVar(&o.clients, "clients", 20, "clients polling at once")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long the clients poll status")
	flag.DurationVar(&o.baseline, "baseline", 10*time.Second, "how long the clients poll /healthz first (the baseline)")
	flag.DurationVar(&o.churn, "churn", time.Second, "a deployment ends this often while they poll (0: never)")
	flag.BoolVar(&o.noGzip, "no-gzip", false, "poll without Accept-Encoding: gzip")
	flag.IntVar(&o.writers, "writers", 8, "goroutines filling the store")
	flag.StringVar(&o.work, "work", "", "directory for the estate (default: a new temporary one)")
	flag.BoolVar(&o.keep, "keep", false, "keep the estate afterwards")
	flag.Parse()
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/status:", err)
		os.Exit(1)
	}
}

// estate writes the project: envs environments in tiers and regions, services no-op
// services.
func estate(envs, services int) []byte {
	var b strings.Builder
	b.WriteString("project: poll\nenvironments:\n")
	tiers := []string{"dev", "staging", "prod"}
	for i := range envs {
		fmt.Fprintf(&b, "  env-%05d:\n    labels: {tier: %s, region: r%d, tenant: t%d}\n", i, tiers[i%3], i%7, i%97)
	}
	b.WriteString("services:\n")
	for j := range services {
		fmt.Fprintf(&b, "  svc-%d:\n    deploy: \"true\"\n", j)
	}
	return []byte(b.String())
}

// fill records one succeeded deployment of every pair, writers at a time (the store
// commits concurrent writes together), and returns an admin token.
func fill(ctx context.Context, dir string, envs, services, writers int) (string, error) {
	st, err := sqlite.Open(filepath.Join(dir, ".strata", "state.db"), nil)
	if err != nil {
		return "", err
	}
	defer st.Close()
	start := time.Now().Add(-24 * time.Hour)
	pairs := make(chan [2]int)
	errc := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for p := range pairs {
				d := &strata.Deployment{Service: fmt.Sprintf("svc-%d", p[1]), Environment: fmt.Sprintf("env-%05d", p[0]),
					Version: "1.0." + strconv.Itoa(p[0]%4), State: strata.Succeeded, Attempt: 1, Kind: "deploy",
					Health: strata.Healthy, StartedAt: start, FinishedAt: start.Add(time.Minute)}
				if p[0]%1000 == 7 {
					d.State, d.Health = strata.Failed, strata.Unhealthy
				}
				if err := st.CreateDeployment(ctx, d, nil); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	var ferr error
feed:
	for i := range envs {
		for j := range services {
			select {
			case pairs <- [2]int{i, j}:
			case ferr = <-errc:
				break feed
			}
		}
	}
	close(pairs)
	wg.Wait()
	if ferr == nil && len(errc) > 0 {
		ferr = <-errc
	}
	if ferr != nil {
		return "", fmt.Errorf("fill the store: %w", ferr)
	}
	secret, hash := strata.NewTokenSecret()
	if err := st.CreateToken(ctx, &strata.Token{Name: "bench", Role: strata.RoleAdmin, Hash: hash, CreatedBy: "bench"}, nil); err != nil {
		return "", err
	}
	return secret, nil
}

// churn ends a deployment in some pair every interval until ctx ends, as the estate's
// life does while the clients poll: each changes the matrix, which the server follows.
func churn(ctx context.Context, dir string, envs, services int, every time.Duration) error {
	if every <= 0 {
		return nil
	}
	st, err := sqlite.Open(filepath.Join(dir, ".strata", "state.db"), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := time.Now()
		d := &strata.Deployment{Service: fmt.Sprintf("svc-%d", i%services), Environment: fmt.Sprintf("env-%05d", (i*7919)%envs),
			Version: "2.0." + strconv.Itoa(i), State: strata.Succeeded, Attempt: 1, Kind: "deploy",
			Health: strata.Healthy, StartedAt: now, FinishedAt: now}
		if err := st.CreateDeployment(context.WithoutCancel(ctx), d, nil); err != nil {
			return fmt.Errorf("churn: %w", err)
		}
	}
}

// serving matches serve's line that says where it listens.
var serving = regexp.MustCompile(`on (https?://[0-9.:\[\]]+)`)

// serve starts `strata serve` on a free loopback port and returns its URL and process.
func serve(bin, dir string) (string, *exec.Cmd, error) {
	cmd := exec.Command(bin, "-C", dir, "serve", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := serving.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return m[1], cmd, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return "", nil, errors.New("strata serve exited before saying where it listens")
}

// peakRSS returns the process's peak resident memory in bytes (VmHWM).
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// poll is what one polling phase measured.
type poll struct {
	n        int
	took     time.Duration
	lat      []time.Duration
	bytes    int64
	failures int
	firstErr error
}

func (p *poll) rate() float64 { return float64(p.n) / p.took.Seconds() }

// quantile returns the q quantile of the latencies (sorted).
func (p *poll) quantile(q float64) time.Duration {
	if len(p.lat) == 0 {
		return 0
	}
	return p.lat[min(len(p.lat)-1, int(q*float64(len(p.lat))))]
}

func (p *poll) String() string {
	return fmt.Sprintf("%7.1f req/s  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  (%d answers, %d failed, %.0f KB each)",
		p.rate(), ms(p.quantile(0.5)), ms(p.quantile(0.99)), ms(p.quantile(1)), p.n, p.failures, float64(p.bytes)/float64(max(p.n, 1))/1024)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// hammer has clients GET url as fast as each gets its answers, for d. The transport does
// not decompress: the clients measure the server, not gunzip.
func hammer(url, token string, clients int, d time.Duration, gz bool) *poll {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: time.Minute}
	var mu sync.Mutex
	res := &poll{}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var lat []time.Duration
			var n, failed int
			var bytes int64
			var first error
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				t0 := time.Now()
				resp, err := c.Do(req)
				if err == nil {
					var k int64
					k, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					bytes += k
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s: %s", url, resp.Status)
					}
				}
				if err != nil {
					failed++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				n++
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.n += n
			res.failures += failed
			res.bytes += bytes
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	slices.Sort(res.lat)
	return res
}

// cells fetches the status once (uncompressed, timed) and counts its cells.
func cells(url, token string) (int, time.Duration, error) {
	req, _ := http.NewRequest("GET", url+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var doc struct {
		Cells []json.RawMessage `json:"cells"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	return len(doc.Cells), time.Since(t0), err
}

func run(o options, w io.Writer) error {
	if o.envs < 1 || o.services < 1 || o.clients < 1 || o.duration <= 0 {
		return errors.New("-envs, -services, -clients and -duration must be more than 0")
	}
	work, cleanup, err := harness.WorkDir(o.work, o.keep)
	if err != nil {
		return err
	}
	defer cleanup()
	bin := o.strata
	if bin == "" {
		if bin, err = harness.BuildStrata(work); err != nil {
			return err
		}
	}
	dir := filepath.Join(work, "estate")
	if err := os.MkdirAll(filepath.Join(dir, ".strata"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), estate(o.envs, o.services), 0o644); err != nil {
		return err
	}
	ctx := context.Background()
	t0 := time.Now()
	token, err := fill(ctx, dir, o.envs, o.services, o.writers)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "estate: %d environments x %d services, %d deployments recorded in %.1f s; %d cores, load %s\n",
		o.envs, o.services, o.envs*o.services, time.Since(t0).Seconds(), harness.NumCPU(), harness.LoadAvg())
	url, srv, err := serve(bin, dir)
	if err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	idle, _ := peakRSS(srv.Process.Pid)
	n, first, err := cells(url, token)
	if err != nil {
		return fmt.Errorf("first status: %w", err)
	}
	if n != o.envs*o.services {
		return fmt.Errorf("first status has %d cells, want %d", n, o.envs*o.services)
	}
	fmt.Fprintf(w, "first status (reads every pair, uncompressed): %.0f ms; serve's peak RSS %.0f MB before it, %.0f MB after\n",
		ms(first), float64(idle)/1e6, float64(must(peakRSS(srv.Process.Pid)))/1e6)

	base := hammer(url+"/healthz", token, o.clients, o.baseline, !o.noGzip)
	fmt.Fprintf(w, "baseline  GET /healthz        %s\n", base)

	cctx, stop := context.WithCancel(ctx)
	churned := make(chan error, 1)
	go func() { churned <- churn(cctx, dir, o.envs, o.services, o.churn) }()
	st := hammer(url+"/api/v1/status", token, o.clients, o.duration, !o.noGzip)
	stop()
	if err := <-churned; err != nil {
		return err
	}
	peak, err := peakRSS(srv.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "measured  GET /api/v1/status  %s\n", st)
	fmt.Fprintf(w, "ratio to the baseline: throughput %.2f, p50 %.1fx, p99 %.1fx\n",
		st.rate()/base.rate(), ms(st.quantile(0.5))/max(ms(base.quantile(0.5)), 0.001), ms(st.quantile(0.99))/max(ms(base.quantile(0.99)), 0.001))
	fmt.Fprintf(w, "serve's peak RSS: %.0f MB\n", float64(peak)/1e6)
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(w, "targets: >= 100 req/s %s (%.0f), p99 < 500 ms %s (%.0f ms), < 200 MB %s (%.0f MB)\n",
		verdict(st.rate() >= 100), st.rate(), verdict(st.quantile(0.99) < 500*time.Millisecond), ms(st.quantile(0.99)),
		verdict(peak < 200e6), float64(peak)/1e6)
	if st.failures > 0 {
		return fmt.Errorf("%d status requests failed, the first: %v", st.failures, st.firstErr)
	}
	return nil
}

func must(n int64, _ error) int64 { return n }
