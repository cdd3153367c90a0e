// Package harness holds what the benchmark programs under bench/ share: timing commands
// against a baseline run in the same process, medians, the synthetic estates, and building
// the strata binary.
package harness

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

// Sample is one Timed command: its wall time and the CPU time it and its children used.
type Sample struct {
	Wall, CPU time.Duration
}

// String shows the wall time and, in brackets, the CPU time, to the millisecond.
func (s Sample) String() string {
	return fmt.Sprintf("%s (cpu %s)", s.Wall.Round(time.Millisecond), s.CPU.Round(time.Millisecond))
}

// Timed runs name with args in dir and returns how long it took and its stdout. A non-zero
// exit is an error that carries its stderr.
func Timed(dir string, stdin io.Reader, name string, args ...string) (Sample, []byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	s := Sample{Wall: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		// wait4 counts the children the command waited for: the steps, for strata.
		s.CPU = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		return s, stdout.Bytes(), fmt.Errorf("%s %s in %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), dir, err, Tail(stderr.String(), 2000))
	}
	return s, stdout.Bytes(), nil
}

// StrataRun runs one untimed strata command.
func StrataRun(bin, dir string, args ...string) ([]byte, error) {
	_, out, err := Timed(dir, nil, bin, args...)
	return out, err
}

// XargsTrue is the baseline: xargs running n `sh -c true` commands, p at a time.
func XargsTrue(dir string, n, p int) (Sample, error) {
	s, _, err := Timed(dir, strings.NewReader(strings.Repeat("true\n", n)), "xargs", "-P", fmt.Sprint(p), "-L", "1", "sh", "-c")
	return s, err
}

// CheckSucceeded checks that a promotion's text output lists n succeeded deployments.
func CheckSucceeded(out []byte, n int) error {
	got := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "d-") && strings.HasSuffix(line, ": succeeded") {
			got++
		}
	}
	if got != n {
		return fmt.Errorf("the promotion lists %d succeeded deployment(s), want %d:\n%s", got, n, Tail(string(out), 2000))
	}
	return nil
}

// Median returns the Sample with the median wall time (and, separately, the median CPU).
func Median(ss []Sample) Sample {
	if len(ss) == 0 {
		return Sample{}
	}
	walls := make([]time.Duration, len(ss))
	cpus := make([]time.Duration, len(ss))
	for i, s := range ss {
		walls[i], cpus[i] = s.Wall, s.CPU
	}
	return Sample{Wall: Mid(walls), CPU: Mid(cpus)}
}

// Mid returns the median of xs (durations or ratios), sorting xs in place; 0 for none.
func Mid[T ~int64 | ~float64](xs []T) T {
	n := len(xs)
	if n == 0 {
		return 0
	}
	slices.Sort(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// Ratio is a/b, 0 when b is not positive.
func Ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// RunsOwn is the median of the runs' own wall-time ratios a[i]/b[i]: steadier than the
// ratio of the medians when the machine's load moves between runs.
func RunsOwn(a, b []Sample) float64 {
	rs := make([]float64, min(len(a), len(b)))
	for i := range rs {
		rs[i] = Ratio(a[i].Wall, b[i].Wall)
	}
	return Mid(rs)
}

// WorkDir returns the directory the estates go in and a function that removes it unless
// it was given or keep is set.
func WorkDir(dir string, keep bool) (string, func(), error) {
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

// BuildStrata builds the strata command into dir; it must run inside the module.
func BuildStrata(dir string) (string, error) {
	bin := filepath.Join(dir, "strata")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/strata-dev/strata/cmd/strata")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build strata (run inside the module, or pass -strata): %w\n%s", err, out)
	}
	return bin, nil
}

// NumCPU is the number of CPUs the benchmark may use, printed with its figures.
func NumCPU() int { return runtime.NumCPU() }

// LoadAvg is the one-minute load average, to tell a quiet machine from a busy one.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

// Tail returns the last n bytes of s, marked as cut when it was longer.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
