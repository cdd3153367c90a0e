package step_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/step"
)

// BenchmarkRun starts no-op steps (`true`) on 8 goroutines, as `strata promote` does with
// parallel 8, once with step.Run and once with os/exec set up the way Run used it (one output
// pipe shared by stdout and stderr, a new process group, /dev/null opened once as stdin), so
// the ratio reads from one run. On a small CPU-bound machine this process's own CPU per step
// is what counts: cpu-ns/op reports it (getrusage of this process, all threads; the shells'
// CPU is not in it). ns/op is wall time per step. step.Run gets a context that can be
// cancelled and a timeout, as the engine gives it; the baseline has neither.
func BenchmarkRun(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Run("step.Run", func(b *testing.B) {
		runParallel(b, func() error {
			res, err := step.Run(ctx, step.Spec{Name: "deploy", Command: "true", Env: testEnv, Timeout: time.Minute, Output: discard{}})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d", res.ExitCode)
			}
			return err
		})
	})
	b.Run("os-exec", func(b *testing.B) {
		null, err := os.Open(os.DevNull)
		if err != nil {
			b.Fatal(err)
		}
		defer null.Close()
		runParallel(b, func() error {
			cmd := exec.Command("/bin/sh", "-c", "true")
			cmd.Env = testEnv
			cmd.Stdin = null
			cmd.Stdout = discard{} // the same writer twice: os/exec makes one pipe
			cmd.Stderr = cmd.Stdout
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			return cmd.Run()
		})
	})
}

// discard is a writer that os/exec cannot see through (it would hand an *os.File to the
// child), so both sides copy the output through a pipe.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// runParallel calls one b.N times in all on 8 goroutines and reports this process's CPU
// per call.
func runParallel(b *testing.B, one func() error) {
	b.ReportAllocs()
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := one(); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		b.Fatal(err)
	}
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	cpu := cpuTime(after) - cpuTime(before)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func cpuTime(ru syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
