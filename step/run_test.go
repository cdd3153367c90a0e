package step_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	strata "github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/syncbuf"
	"github.com/strata-dev/strata/step"
)

var testEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}

func TestRunReportsTheExitCode(t *testing.T) {
	tests := []struct {
		name    string
		command string
		want    int
	}{
		{"a command that succeeds reports 0", "true", 0},
		{"a command that fails reports its status with no error", "exit 3", 3},
		{"false reports 1", "false", 1},
		{"a shell killed by a signal reports 128 plus the signal", "kill -TERM $$", 128 + int(syscall.SIGTERM)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := step.Run(context.Background(), step.Spec{Name: "deploy", Command: tt.command, Env: testEnv})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != tt.want {
				t.Errorf("exit code: got %d, want %d", res.ExitCode, tt.want)
			}
			if res.TimedOut {
				t.Error("TimedOut is set")
			}
		})
	}
}

func TestRunGivesTheProcessItsEnvironmentAndDirectory(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = step.Run(context.Background(), step.Spec{
		Name:    "deploy",
		Command: `echo "$STRATA_ENV"; pwd; echo "${HOME-no home}"`,
		Dir:     dir,
		Env:     append([]string{"STRATA_ENV=staging"}, testEnv...),
		Output:  &out,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, want := out.String(), "staging\n"+dir+"\nno home\n"
	if got != want {
		t.Errorf("output: got %q, want %q", got, want)
	}
}

func TestRunWithANilEnvironmentPassesNothing(t *testing.T) {
	t.Setenv("STRATA_LEAK", "leaked")
	var out bytes.Buffer
	_, err := step.Run(context.Background(), step.Spec{Command: `echo "${STRATA_LEAK-clean}"`, Output: &out})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := out.String(), "clean\n"; got != want {
		t.Errorf("output: got %q, want %q", got, want)
	}
}

func TestRunInterleavesStdoutAndStderrAsWritten(t *testing.T) {
	var out bytes.Buffer
	_, err := step.Run(context.Background(), step.Spec{
		Command: "echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo out3",
		Env:     testEnv,
		Output:  &out,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := out.String(), "out1\nerr1\nout2\nerr2\nout3\n"; got != want {
		t.Errorf("output: got %q, want %q", got, want)
	}
}

func TestStartedGetsTheProcessGroupTheProcessRunsIn(t *testing.T) {
	var out bytes.Buffer
	var gotPID, gotPGID int
	_, err := step.Run(context.Background(), step.Spec{
		// Field 5 of /proc/self/stat is the process group; "sh" has no spaces in its name.
		Command: "cut -d' ' -f5 /proc/$$/stat",
		Env:     testEnv,
		Output:  &out,
		Started: func(pid, pgid int) error {
			gotPID, gotPGID = pid, pgid
			if g, err := syscall.Getpgid(pid); err != nil || g != pgid {
				t.Errorf("Getpgid(%d) = %d, %v; want %d", pid, g, err, pgid)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if gotPID == 0 || gotPGID != gotPID {
		t.Errorf("Started(pid %d, pgid %d): want pgid == pid", gotPID, gotPGID)
	}
	if got, want := strings.TrimSpace(out.String()), strconv.Itoa(gotPGID); got != want {
		t.Errorf("the process reports group %s, Started was given %s", got, want)
	}
}

func TestAFailingStartedKillsTheGroupAndReturnsItsError(t *testing.T) {
	refused := errors.New("store is gone")
	var pgid int
	_, err := runBounded(t, context.Background(), step.Spec{
		Command: "sleep 100000 & sleep 100000",
		Env:     testEnv,
		Grace:   time.Second,
		Started: func(_, g int) error { pgid = g; return refused },
	})
	if !errors.Is(err, refused) {
		t.Fatalf("Run: got %v, want %v", err, refused)
	}
	if step.GroupAlive(pgid) {
		t.Errorf("group %d is still alive", pgid)
	}
}

func TestRunFailsWhenTheProcessCannotStart(t *testing.T) {
	_, err := step.Run(context.Background(), step.Spec{
		Name:    "build",
		Command: "true",
		Dir:     filepath.Join(t.TempDir(), "missing"),
		Env:     testEnv,
	})
	if err == nil {
		t.Fatal("Run: no error for a missing directory")
	}
	if got := strata.ErrorCode(err); got != strata.EFAILED {
		t.Errorf("code: got %q, want %q (%v)", got, strata.EFAILED, err)
	}
	if !strings.Contains(err.Error(), "build step could not start") {
		t.Errorf("error %q does not say which step", err)
	}
}

func TestStoppingAStepKillsGrandchildrenToo(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		cancel  time.Duration
		command string
		check   func(t *testing.T, err error)
	}{
		{
			name:    "a timeout kills the whole group and says so",
			timeout: 300 * time.Millisecond,
			command: "sleep 100000 & echo $!; sleep 100000",
			check: func(t *testing.T, err error) {
				if got, want := err.Error(), "deploy step timed out after 300ms; its process group was killed"; got != want {
					t.Errorf("error: got %q, want %q", got, want)
				}
			},
		},
		{
			name:    "a cancelled context kills the whole group",
			cancel:  300 * time.Millisecond,
			command: "sleep 100000 & echo $!; sleep 100000",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v does not wrap context.Canceled", err)
				}
			},
		},
		{
			name:    "a group that ignores SIGTERM is killed after the grace period",
			timeout: 200 * time.Millisecond,
			command: "trap '' TERM; sleep 100000 & echo $!; sleep 100000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel > 0 {
				time.AfterFunc(tt.cancel, cancel)
			}
			var out syncbuf.Buffer
			var pgid int
			res, err := runBounded(t, ctx, step.Spec{
				Name:    "deploy",
				Command: tt.command,
				Env:     testEnv,
				Timeout: tt.timeout,
				Grace:   500 * time.Millisecond,
				Output:  &out,
				Started: func(_, g int) error { pgid = g; return nil },
			})
			if strata.ErrorCode(err) != strata.EFAILED {
				t.Fatalf("error: got %v, want an EFAILED error", err)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			if res.TimedOut != (tt.timeout > 0) {
				t.Errorf("TimedOut: got %v", res.TimedOut)
			}
			if step.GroupAlive(pgid) {
				t.Errorf("group %d is still alive", pgid)
			}
			child := firstPID(t, out.String())
			if step.Alive(strata.Owner{Host: step.Self().Host, PID: child}) {
				t.Errorf("grandchild %d is still alive", child)
			}
		})
	}
}

func TestABackgroundProcessHoldingTheOutputDoesNotHangRun(t *testing.T) {
	var out syncbuf.Buffer
	var pgid int
	res, err := runBounded(t, context.Background(), step.Spec{
		Command: "sleep 100000 & echo started",
		Env:     testEnv,
		Grace:   300 * time.Millisecond,
		Output:  &out,
		Started: func(_, g int) error { pgid = g; return nil },
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.ExitCode != 0 || out.String() != "started\n" {
		t.Errorf("got exit %d and output %q", res.ExitCode, out.String())
	}
	// The daemon is left running: a deploy step may start one on purpose.
	if !step.GroupAlive(pgid) {
		t.Error("the background process was killed")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestAFailingOutputDoesNotBlockTheStep(t *testing.T) {
	res, err := step.Run(context.Background(), step.Spec{
		Command: "head -c 1000000 /dev/zero; exit 4",
		Env:     testEnv,
		Timeout: 10 * time.Second,
		Output:  failingWriter{},
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error: got %v, want the output's error", err)
	}
	if res.ExitCode != 4 || res.TimedOut {
		t.Errorf("result: got %+v, want exit 4", res)
	}
}

func firstPID(t *testing.T, out string) int {
	t.Helper()
	line, _, _ := strings.Cut(out, "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("output %q does not start with a pid", out)
	}
	return pid
}

// runBounded runs spec and fails t when Run has not returned after a minute. The processes
// of the tests that use it sleep far longer, so a Run that waited for what it should kill or
// leave behind would hit the bound; it is not a measure of Run's speed, which a busy machine
// may slow down any amount. The step's group is killed when t ends.
func runBounded(t *testing.T, ctx context.Context, spec step.Spec) (step.Result, error) {
	t.Helper()
	var group atomic.Int64
	started := spec.Started
	spec.Started = func(pid, g int) error {
		group.Store(int64(g))
		if started != nil {
			return started(pid, g)
		}
		return nil
	}
	t.Cleanup(func() {
		if g := group.Load(); g > 0 {
			_ = step.KillGroup(int(g), time.Second)
		}
	})
	type ran struct {
		res step.Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := step.Run(ctx, spec)
		done <- ran{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-time.After(time.Minute):
		t.Fatalf("Run has not returned after a minute: it waits for processes it should kill or leave behind")
		return step.Result{}, nil
	}
}
