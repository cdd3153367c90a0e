package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/sqlite"
)

// The tests below re-run this test binary as child processes, as many strata CLIs would
// open one store: STRATA_SQLITE_TEST_CHILD names what the child does with the store at
// STRATA_SQLITE_TEST_PATH.
func TestMain(m *testing.M) {
	if mode := os.Getenv("STRATA_SQLITE_TEST_CHILD"); mode != "" {
		os.Exit(child(mode, os.Getenv("STRATA_SQLITE_TEST_PATH")))
	}
	os.Exit(m.Run())
}

// child opens the store, says "ready", waits for a line on stdin, then claims api in prod
// ("claim") or appends an event ("event"), and prints the outcome.
func child(mode, path string) int {
	db, err := sqlite.Open(path, nil)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer db.Close()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Println("error", err)
		return 1
	}
	ctx := context.Background()
	switch mode {
	case "claim":
		d := &strata.Deployment{Service: "api", Environment: "prod", Version: "1", State: strata.Running,
			Owner: strata.Owner{Host: "test", PID: os.Getpid(), Start: 1}}
		err := db.CreateDeployment(ctx, d, &strata.Event{Actor: "child", Action: "deploy"})
		switch strata.ErrorCode(err) {
		case "":
			fmt.Println("won", d.ID)
		case strata.EBLOCKED:
			fmt.Println("blocked", err)
		default:
			fmt.Println("error", err)
			return 1
		}
	case "event":
		if err := db.AppendEvent(ctx, &strata.Event{Actor: "child", Action: "tick"}); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("appended")
	}
	return 0
}

// children runs n children in mode against path, starts them at once when they are all
// ready, and returns the last line each printed.
func children(t *testing.T, n int, mode, path string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type proc struct {
		cmd   *exec.Cmd
		in    io.WriteCloser
		out   *bufio.Scanner
		lines []string
	}
	procs := make([]*proc, n)
	for i := range procs {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "STRATA_SQLITE_TEST_CHILD="+mode, "STRATA_SQLITE_TEST_PATH="+path)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i] = &proc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	}
	for i, p := range procs {
		if !p.out.Scan() || p.out.Text() != "ready" {
			t.Fatalf("child %d did not get ready: %q %v", i, p.out.Text(), p.out.Err())
		}
	}
	for _, p := range procs {
		io.WriteString(p.in, "go\n")
		p.in.Close()
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() {
			for p.out.Scan() {
				p.lines = append(p.lines, p.out.Text())
			}
		})
	}
	wg.Wait()
	var last []string
	for i, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v (%q)", i, err, p.lines)
		}
		if len(p.lines) == 0 {
			t.Fatalf("child %d printed nothing", i)
		}
		last = append(last, p.lines[len(p.lines)-1])
	}
	return last
}

func TestProcessesClaimingOnePairExcludeEachOther(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	db := open(t, path)
	outs := children(t, 6, "claim", path)
	var won []string
	var blocked []string
	for _, o := range outs {
		switch verb, rest, _ := strings.Cut(o, " "); verb {
		case "won":
			won = append(won, rest)
		case "blocked":
			blocked = append(blocked, rest)
		default:
			t.Errorf("child said %q", o)
		}
	}
	if len(won) != 1 || len(blocked) != 5 {
		t.Fatalf("%d processes won and %d were blocked, want 1 and 5: %q", len(won), len(blocked), outs)
	}
	for _, b := range blocked {
		if !strings.Contains(b, won[0]) {
			t.Errorf("blocked child said %q, which does not name the winner %s", b, won[0])
		}
	}
	ds, err := db.Deployments(t.Context(), strata.DeploymentFilter{})
	if err != nil || len(ds) != 1 || ds[0].ID != won[0] {
		t.Fatalf("deployments = %d, %v; want only %s", len(ds), err, won[0])
	}
}

func TestProcessesOpeningANewStoreAtOnceShareOneChain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "new", "state.db")
	outs := children(t, 6, "event", path)
	for _, o := range outs {
		if o != "appended" {
			t.Errorf("child said %q", o)
		}
	}
	db := open(t, path)
	evs, err := db.Events(t.Context(), strata.EventFilter{})
	if err != nil || len(evs) != 6 {
		t.Fatalf("events = %d, %v; want 6", len(evs), err)
	}
	prev := ""
	for _, e := range evs {
		if e.Prev != prev || e.ComputeHash(prev) != e.Hash {
			t.Fatalf("the chain breaks at event %d", e.Seq)
		}
		prev = e.Hash
	}
}
