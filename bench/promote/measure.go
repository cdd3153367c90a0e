package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// This file is a copy of bench/deploy/measure.go (each benchmark is its own main package).

// sample is one timed command: its wall time and the CPU time it and its children used.
type sample struct {
	Wall, CPU time.Duration
}

func (s sample) String() string {
	return fmt.Sprintf("%s (cpu %s)", s.Wall.Round(time.Millisecond), s.CPU.Round(time.Millisecond))
}

// timed runs name with args in dir and returns how long it took and its stdout. A non-zero
// exit is an error that carries its stderr.
func timed(dir string, stdin io.Reader, name string, args ...string) (sample, []byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	s := sample{Wall: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		// wait4 counts the children the command waited for: the steps, for strata.
		s.CPU = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		return s, stdout.Bytes(), fmt.Errorf("%s %s in %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), dir, err, tail(stderr.String(), 2000))
	}
	return s, stdout.Bytes(), nil
}

// strataRun runs one untimed strata command.
func strataRun(bin, dir string, args ...string) ([]byte, error) {
	_, out, err := timed(dir, nil, bin, args...)
	return out, err
}

// xargsTrue is the baseline: xargs running n `sh -c true` commands, p at a time.
func xargsTrue(dir string, n, p int) (sample, error) {
	s, _, err := timed(dir, strings.NewReader(strings.Repeat("true\n", n)), "xargs", "-P", fmt.Sprint(p), "-L", "1", "sh", "-c")
	return s, err
}

// checkSucceeded checks that a promotion's text output lists n succeeded deployments.
func checkSucceeded(out []byte, n int) error {
	got := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "d-") && strings.HasSuffix(line, ": succeeded") {
			got++
		}
	}
	if got != n {
		return fmt.Errorf("the promotion lists %d succeeded deployment(s), want %d:\n%s", got, n, tail(string(out), 2000))
	}
	return nil
}

// median returns the sample with the median wall time (and, separately, the median CPU).
func median(ss []sample) sample {
	if len(ss) == 0 {
		return sample{}
	}
	walls := make([]time.Duration, len(ss))
	cpus := make([]time.Duration, len(ss))
	for i, s := range ss {
		walls[i], cpus[i] = s.Wall, s.CPU
	}
	return sample{Wall: mid(walls), CPU: mid(cpus)}
}

func mid(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// workDir returns the directory the estates go in and a function that removes it unless
// it was given or keep is set.
func workDir(dir string, keep bool) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	d, err := os.MkdirTemp("", "strata-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("make work directory: %w", err)
	}
	if keep {
		fmt.Fprintln(os.Stderr, "keeping", d)
		return d, func() {}, nil
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// buildStrata builds the strata command into dir; it must run inside the module.
func buildStrata(dir string) (string, error) {
	bin := filepath.Join(dir, "strata")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/strata-dev/strata/cmd/strata")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build strata (run inside the module, or pass -strata): %w\n%s", err, out)
	}
	return bin, nil
}

func numCPU() int { return runtime.NumCPU() }

// loadAvg is the one-minute load average, to tell a quiet machine from a busy one.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
