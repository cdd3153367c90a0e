// Package step runs one process of a deployment (a build, deploy, destroy, observe or health
// command) the way DESIGN.md section 4 describes: /bin/sh -c in the project directory, with the
// environment the caller built, in a process group of its own so that a timeout, a cancellation
// or a later `resume` can stop everything the step started, not just the shell.
//
// It also answers the questions the engine asks about owners of a run: is that process still
// alive on this host, and is anything left of a step's process group. It is Linux only: it
// reads /proc.
package step

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	strata "github.com/strata-dev/strata"
)

// Grace is how long a process group gets between SIGTERM and SIGKILL when a step is stopped,
// and how long Run keeps reading output after the shell has exited (a background process that
// keeps the output open cannot hold Run longer than this). Spec.Grace overrides it per step.
var Grace = 5 * time.Second

// Spec is one process to run.
type Spec struct {
	// Name says which step this is ("build", "deploy", "health", ...) in messages.
	Name string
	// Command is run as /bin/sh -c Command.
	Command string
	// Dir is the working directory (the project directory).
	Dir string
	// Env is the complete environment; the caller builds it (os.Environ() plus STRATA_*
	// variables plus config), so nothing is added here.
	Env []string
	// Timeout bounds the run; 0 means no timeout.
	Timeout time.Duration
	// Grace overrides the package's Grace for this step when it is positive.
	Grace time.Duration
	// Output receives stdout and stderr interleaved, in the order the process wrote them. The
	// caller wraps it with redaction, storage and the terminal. Nil discards the output.
	Output io.Writer
	// Started is called once the process is running, with its pid and process group id,
	// before Run waits; the engine records them in the store so that a later `resume` can
	// stop what is left of a dead run. If Started returns an error, Run kills the group and
	// returns that error.
	Started func(pid, pgid int) error
}

// Result says how a process ended.
type Result struct {
	// ExitCode is the shell's exit status; a shell killed by a signal reports 128+signal,
	// as shells do.
	ExitCode int
	// Duration is the time from start to the end of the output.
	Duration time.Duration
	// TimedOut is set when Spec.Timeout elapsed and the group was killed.
	TimedOut bool
}

// Run starts s.Command in its own process group and waits for it. A non-zero exit is reported
// in the Result with a nil error: whether that fails a deployment is the caller's decision.
//
// On timeout or cancellation of ctx, Run stops the whole group (SIGTERM, then SIGKILL after
// the grace period) and returns an EFAILED *strata.Error; on cancellation the error wraps the
// context's cause. Failing to start is an EFAILED error too. After the shell exits, output is
// read for at most the grace period: a background process that keeps stdout open does not
// hold Run, and is left running (a deploy step may start a daemon on purpose).
func Run(ctx context.Context, s Spec) (Result, error) {
	grace := s.Grace
	if grace <= 0 {
		grace = Grace
	}
	name := s.Name
	if name == "" {
		name = "step"
	}
	cmd := exec.Command("/bin/sh", "-c", s.Command)
	cmd.Dir = s.Dir
	cmd.Env = s.Env
	if cmd.Env == nil {
		// exec.Cmd reads a nil Env as "inherit"; the caller's Spec says "complete".
		cmd.Env = []string{}
	}
	var out *sink
	if s.Output != nil {
		out = &sink{w: s.Output}
		cmd.Stdout = out // one shared writer: exec makes one pipe, so order is kept
		cmd.Stderr = out
	}
	if null := devNull(); null != nil {
		cmd.Stdin = null
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = grace

	if err := ctx.Err(); err != nil {
		return Result{}, &strata.Error{Code: strata.EFAILED, Message: fmt.Sprintf("%s step was not started", name), Err: context.Cause(ctx)}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, &strata.Error{Code: strata.EFAILED, Message: fmt.Sprintf("%s step could not start", name), Err: err}
	}
	pid := cmd.Process.Pid
	pgid := pid // Setpgid with Pgid 0 makes the shell the leader of a new group.

	done := make(chan error, 1)
	if s.Started != nil {
		if err := s.Started(pid, pgid); err != nil {
			go func() { done <- cmd.Wait() }()
			_ = KillGroup(pgid, grace)
			<-done
			return Result{Duration: time.Since(start)}, err
		}
	}
	go func() { done <- cmd.Wait() }()

	var timeout <-chan time.Time
	if s.Timeout > 0 {
		t := time.NewTimer(s.Timeout - time.Since(start))
		defer t.Stop()
		timeout = t.C
	}

	var stopErr error
	var res Result
	select {
	case err := <-done:
		res.Duration = time.Since(start)
		res, err = finish(res, cmd, err, name)
		if err == nil && out != nil && out.err != nil {
			err = fmt.Errorf("%s step output: %w", name, out.err)
		}
		return res, err
	case <-timeout:
		res.TimedOut = true
		stopErr = strata.Errorf(strata.EFAILED, "%s step timed out after %s; its process group was killed", name, strata.Duration(s.Timeout))
	case <-ctx.Done():
		stopErr = &strata.Error{Code: strata.EFAILED, Message: fmt.Sprintf("%s step was cancelled; its process group was killed", name), Err: context.Cause(ctx)}
	}
	if err := KillGroup(pgid, grace); err != nil {
		stopErr = errors.Join(stopErr, fmt.Errorf("stop %s step: %w", name, err))
	}
	werr := <-done
	res.Duration = time.Since(start)
	res, _ = finish(res, cmd, werr, name)
	return res, stopErr
}

// finish turns what cmd.Wait returned into a Result. A non-zero exit and output that a
// background process held open past the grace period are not errors.
func finish(res Result, cmd *exec.Cmd, err error, name string) (Result, error) {
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay), errors.As(err, &exitErr):
	default:
		// The exit status is still known; the error is in copying the output.
		if cmd.ProcessState == nil {
			return res, fmt.Errorf("wait for %s step: %w", name, err)
		}
		res.ExitCode = exitCode(cmd)
		return res, fmt.Errorf("%s step output: %w", name, err)
	}
	res.ExitCode = exitCode(cmd)
	return res, nil
}

func exitCode(cmd *exec.Cmd) int {
	ps := cmd.ProcessState
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// sink passes output on and remembers the first error instead of returning it: if the
// writer fails (a full disk, a closed terminal) the step must not block on a full pipe.
type sink struct {
	w   io.Writer
	err error
}

// ReadFrom copies a step's output pipe to the writer with a pooled buffer: os/exec's own
// copy allocates 32 KiB for every process, which made the garbage collector a tenth of a
// large promotion's work.
func (s *sink) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	var n int64
	for {
		m, err := r.Read(*buf)
		if m > 0 {
			s.Write((*buf)[:m])
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (s *sink) Write(p []byte) (int, error) {
	if s.err == nil {
		if _, err := s.w.Write(p); err != nil {
			s.err = err
		}
	}
	return len(p), nil
}

// devNull is /dev/null, opened once and given to every step as its stdin: left nil, os/exec
// opens and closes it for each process it starts. Nil when it cannot be opened (exec then
// opens it itself, and says why it cannot).
var devNull = sync.OnceValue(func() *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return nil
	}
	return f
})
