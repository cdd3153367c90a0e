package step_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	strata "github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/syncbuf"
	"github.com/strata-dev/strata/step"
)

func TestAStepDoesNotInheritTheOutputOfAnotherRunningStep(t *testing.T) {
	// The first step's read end is open in this process for as long as it runs; the second
	// step's shell must not hold it, and holds its own pipe only as stdout and stderr.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var first syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := step.Run(ctx, step.Spec{Command: "readlink /proc/$$/fd/1; sleep 100", Env: testEnv, Grace: time.Second, Output: &first})
		done <- err
	}()
	defer func() { cancel(); <-done }()
	if !waitFor(func() bool { return strings.HasSuffix(first.String(), "\n") }) {
		t.Fatal("the first step did not name its pipe")
	}
	firstPipe := strings.TrimSpace(first.String())

	var out bytes.Buffer
	_, err := step.Run(context.Background(), step.Spec{Command: "ls -l /proc/$$/fd", Env: testEnv, Output: &out})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	fds := map[string][]string{} // target -> descriptors
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[len(f)-2] == "->" {
			fds[f[len(f)-1]] = append(fds[f[len(f)-1]], f[len(f)-3])
		}
	}
	if got := fds[firstPipe]; len(got) > 0 {
		t.Errorf("the second shell holds the first step's %s on descriptors %v:\n%s", firstPipe, got, out.String())
	}
	own := fds[targetOf(fds, "1")]
	if got, want := strings.Join(own, " "), "1 2"; got != want {
		t.Errorf("the second shell's own pipe is on descriptors %q, want %q:\n%s", got, want, out.String())
	}
}

// targetOf returns what descriptor fd refers to in a target -> descriptors map.
func targetOf(fds map[string][]string, fd string) string {
	for target, list := range fds {
		if slices.Contains(list, fd) {
			return target
		}
	}
	return ""
}

func TestConcurrentStepsDoNotHoldEachOthersOutputOpen(t *testing.T) {
	// Quick steps start while slow ones do. Were a quick step's write end inherited by a
	// slow step's shell, the quick step's output would not end until the slow one did: with
	// a grace period of an hour, its Run would not return. The slow steps run until every
	// quick one has returned (a minute at most: the bound of a hung test, not a measure of
	// speed), so only an inherited pipe, not a slow scheduler, keeps a quick one waiting.
	gate := filepath.Join(t.TempDir(), "go")
	slow, quick := `while [ ! -e "`+gate+`" ]; do sleep 0.05; done`, "echo quick"
	release := sync.OnceFunc(func() {
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(release)
	errs := make(chan error, 1000)
	run := func(command string) {
		var out syncbuf.Buffer
		res, err := step.Run(context.Background(), step.Spec{Command: command, Env: testEnv, Grace: time.Hour, Output: &out})
		switch {
		case err != nil:
			errs <- err
		case res.ExitCode != 0:
			errs <- fmt.Errorf("%s: exit %d", command, res.ExitCode)
		case command == quick && out.String() != "quick\n":
			errs <- fmt.Errorf("%s wrote %q", command, out.String())
		}
	}
	var slows, quicks sync.WaitGroup
	for range 4 {
		slows.Go(func() { run(slow) })
		quicks.Go(func() {
			for range 25 {
				run(quick)
			}
		})
	}
	quickDone := make(chan struct{})
	go func() { quicks.Wait(); close(quickDone) }()
	select {
	case <-quickDone:
	case <-time.After(time.Minute):
		t.Errorf("quick steps had not returned after a minute while slow ones ran: a slow step's shell holds a quick one's output open")
	}
	release()
	slows.Wait()
	<-quickDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLaterEnvironmentEntriesOverrideEarlierOnes(t *testing.T) {
	var out bytes.Buffer
	_, err := step.Run(context.Background(), step.Spec{
		Command: `echo "$STRATA_ENV $A"; env | grep -c '^STRATA_ENV='`,
		Env:     append([]string{"STRATA_ENV=base", "A=1"}, append(testEnv, "STRATA_ENV=staging", "")...),
		Output:  &out,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := out.String(), "staging 1\n1\n"; got != want {
		t.Errorf("output: got %q, want %q", got, want)
	}
}

func TestRunSaysWhyAStepCouldNotStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		env  []string
		want string
	}{
		{"a missing directory is named", filepath.Join(t.TempDir(), "missing"), testEnv, "chdir "},
		{"a directory that is a file is named", file, testEnv, "not a directory"},
		{"an environment entry holding NUL is refused", "", []string{"A=x\x00y"}, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := step.Run(context.Background(), step.Spec{Name: "build", Command: "true", Dir: tt.dir, Env: tt.env})
			if got := strata.ErrorCode(err); got != strata.EFAILED {
				t.Fatalf("code: got %q, want %q (%v)", got, strata.EFAILED, err)
			}
			if !strings.Contains(err.Error(), "build step could not start") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestRunWithoutOutputDoesNotWaitForBackgroundProcesses(t *testing.T) {
	// With a grace period of an hour, a Run that waited to read would not return.
	res, err := runBounded(t, context.Background(), step.Spec{
		Command: "sleep 100000 & echo discarded; echo discarded too >&2",
		Env:     testEnv,
		Grace:   time.Hour,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run: exit %d, %v", res.ExitCode, err)
	}
}

func TestOutputWrittenAfterTheGracePeriodIsDropped(t *testing.T) {
	// The background process writes its line once the test has got Run's answer.
	gate := filepath.Join(t.TempDir(), "go")
	var out syncbuf.Buffer
	var pgid int
	_, err := runBounded(t, context.Background(), step.Spec{
		Command: `(while [ ! -e "` + gate + `" ]; do sleep 0.05; done; echo late) & echo started`,
		Env:     testEnv,
		Grace:   100 * time.Millisecond,
		Output:  &out,
		Started: func(_, g int) error { pgid = g; return nil },
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The background process writes and exits; its line must not reach the caller's
	// writer, which Run has given back.
	if !waitFor(func() bool { return !step.GroupAlive(pgid) }) {
		t.Fatalf("group %d did not end", pgid)
	}
	time.Sleep(50 * time.Millisecond)
	if got, want := out.String(), "started\n"; got != want {
		t.Errorf("output: got %q, want %q", got, want)
	}
}

func TestRunReapsTheShellHoweverItEnds(t *testing.T) {
	tests := []struct {
		name    string
		command string
		timeout time.Duration
		started error
	}{
		{"a shell that exits", "true", 0, nil},
		{"a shell whose background process holds the output", "sleep 100 & echo started", 0, nil},
		{"a shell that times out", "sleep 100", 100 * time.Millisecond, nil},
		{"a shell whose Started fails", "sleep 100", 0, errors.New("refused")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pid int
			_, _ = step.Run(context.Background(), step.Spec{
				Command: tt.command,
				Env:     testEnv,
				Timeout: tt.timeout,
				Grace:   200 * time.Millisecond,
				Output:  &syncbuf.Buffer{},
				Started: func(p, _ int) error { pid = p; return tt.started },
			})
			t.Cleanup(func() { _ = step.KillGroup(pid, time.Second) })
			// Reaped, the shell's /proc entry is gone; a zombie would keep it.
			if _, err := step.StartTime(pid); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("shell %d is left unreaped (%v)", pid, err)
			}
		})
	}
}

// waitFor polls cond and reports whether it came to hold within a minute (the bound of a
// hung test: a busy machine may take any time to get there).
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}
