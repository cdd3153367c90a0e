// Package step runs one process of a deployment (a build, deploy, destroy, observe or health
// command) the way DESIGN.md section 4 describes: /bin/sh -c in the project directory, with the
// environment the caller built, in a process group of its own so that a timeout, a cancellation
// or a later `resume` can stop everything the step started, not just the shell.
//
// It also answers the questions the engine asks about owners of a run: is that process still
// alive on this host, and is anything left of a step's process group. On Linux it reads /proc
// and starts processes with syscall.ForkExec and pipe2 (spawn_linux.go, proc_linux.go); on
// macOS and the BSDs it starts them with os/exec (spawn_portable.go) and asks the kernel with
// kill and sysctl. Process groups, timeouts and killing the whole group work the same on all.
package step

import (
	"context"
	"fmt"
	"io"
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
// hold Run, and is left running (a deploy step may start a daemon on purpose); what it
// writes later is read and dropped until it closes the pipe.
func Run(ctx context.Context, s Spec) (Result, error) {
	grace := s.Grace
	if grace <= 0 {
		grace = Grace
	}
	name := s.Name
	if name == "" {
		name = "step"
	}
	if err := ctx.Err(); err != nil {
		return Result{}, &strata.Error{Code: strata.EFAILED, Message: fmt.Sprintf("%s step was not started", name), Err: context.Cause(ctx)}
	}
	start := time.Now()
	p, err := spawn(s)
	if err != nil {
		return Result{}, &strata.Error{Code: strata.EFAILED, Message: fmt.Sprintf("%s step could not start", name), Err: err}
	}
	pgid := p.pid // Setpgid with Pgid 0 makes the shell the leader of a new group.

	if s.Started != nil {
		if err := s.Started(p.pid, pgid); err != nil {
			_ = KillGroup(pgid, grace)
			p.reap()
			p.awaitOutput(grace)
			return Result{Duration: time.Since(start)}, err
		}
	}

	// A timeout or a cancellation kills the group from a callback (stop.go), which ends
	// this wait as it would end any other.
	st := arm(ctx, s, start, pgid, grace, name)
	p.reap()
	if st.disarm() {
		return finish(p, grace, start, name)
	}
	<-st.done
	p.awaitOutput(grace)
	return Result{ExitCode: p.exitCode(), Duration: time.Since(start), TimedOut: st.timedOut}, st.err
}

// finish waits for the output of a shell that exited by itself and says how it ended. A
// non-zero exit and output that a background process held open past the grace period are
// not errors; failing to read the output or to write it to Spec.Output is.
func finish(p *process, grace time.Duration, start time.Time, name string) (Result, error) {
	complete := p.awaitOutput(grace)
	res := Result{Duration: time.Since(start), ExitCode: p.exitCode()}
	if p.waitErr != nil {
		return res, fmt.Errorf("wait for %s step: %w", name, p.waitErr)
	}
	if complete && p.readErr != nil {
		return res, fmt.Errorf("%s step output: %w", name, p.readErr)
	}
	if p.out != nil {
		if err := p.out.close(); err != nil {
			return res, fmt.Errorf("%s step output: %w", name, err)
		}
	}
	return res, nil
}
