package step_test

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	strata "github.com/strata-dev/strata"
	"github.com/strata-dev/strata/step"
)

func TestKillGroupStopsWhatADeadParentLeftBehind(t *testing.T) {
	// A run whose strata died: the shell is gone (kill -9), its background sleep lives on in
	// the group that was recorded.
	cmd := exec.Command("/bin/sh", "-c", "sleep 300 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	sleeper, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	start, err := step.StartTime(sleeper)
	if err != nil {
		t.Fatal(err)
	}
	sleepOwner := strata.Owner{Host: step.Self().Host, PID: sleeper, Start: start}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !step.GroupAlive(pgid) || !step.Alive(sleepOwner) {
		t.Fatalf("the orphaned sleep %d in group %d should still run", sleeper, pgid)
	}

	if err := step.KillGroup(pgid, 2*time.Second); err != nil {
		t.Fatalf("KillGroup: %v", err)
	}
	if step.GroupAlive(pgid) {
		t.Errorf("group %d is still alive", pgid)
	}
	if step.Alive(sleepOwner) {
		t.Errorf("sleep %d is still alive", sleeper)
	}
}

func TestKillGroupOfNoGroupIsNotAnError(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := step.KillGroup(cmd.Process.Pid, time.Second); err != nil {
		t.Errorf("KillGroup of a finished group: %v", err)
	}
}

func TestKillGroupRefusesGroupsThatAreNotAStepsOwn(t *testing.T) {
	for _, pgid := range []int{-1, 0, 1, syscall.Getpgrp()} {
		t.Run(strconv.Itoa(pgid), func(t *testing.T) {
			err := step.KillGroup(pgid, time.Second)
			if got := strata.ErrorCode(err); got != strata.EINVALID {
				t.Errorf("KillGroup(%d): got %v, want an EINVALID error", pgid, err)
			}
		})
	}
}

func TestAlive(t *testing.T) {
	self := step.Self()
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	zombie := startZombie(t)

	tests := []struct {
		name  string
		owner strata.Owner
		want  bool
	}{
		{"this process is alive", self, true},
		{"a pid that has exited is not alive", strata.Owner{Host: self.Host, PID: exited.Process.Pid, Start: self.Start}, false},
		{"the same pid with another start time is a reused pid, not alive", strata.Owner{Host: self.Host, PID: self.PID, Start: self.Start + 1}, false},
		{"a zombie is not alive", strata.Owner{Host: self.Host, PID: zombie}, false},
		{"an owner on another host is alive: its lease decides", strata.Owner{Host: self.Host + ".elsewhere", PID: exited.Process.Pid}, true},
		{"pid 0 is not alive", strata.Owner{Host: self.Host}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := step.Alive(tt.owner); got != tt.want {
				t.Errorf("Alive(%+v): got %v, want %v", tt.owner, got, tt.want)
			}
		})
	}
}

func TestSelfNamesThisProcess(t *testing.T) {
	self := step.Self()
	host, _ := os.Hostname()
	if self.Host != host || self.PID != os.Getpid() || self.Start <= 0 {
		t.Errorf("Self() = %+v; want host %q, pid %d and a start time", self, host, os.Getpid())
	}
}

func TestGroupAliveDoesNotCountZombies(t *testing.T) {
	pid := startZombie(t)
	if step.GroupAlive(pid) {
		t.Errorf("a group holding only a zombie is reported alive")
	}
}

func TestStartTimeReadsAProcessWhoseNameHoldsParentheses(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "a) (b")
	copyFile(t, "/bin/sleep", bin)
	cmd := exec.Command(bin, "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "a) (b" {
		t.Fatalf("comm is %q (%v); the test needs the tricky name", comm, err)
	}
	got, err := step.StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatalf("StartTime: %v", err)
	}
	if self := step.Self(); got < self.Start {
		t.Errorf("StartTime = %d, before this test's own start %d", got, self.Start)
	}
	if !step.Alive(strata.Owner{Host: step.Self().Host, PID: cmd.Process.Pid, Start: got}) {
		t.Error("the running process is not reported alive")
	}
}

func TestStartTimeOfNoProcessIsAnError(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	_, err := step.StartTime(cmd.Process.Pid)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("StartTime of an exited process: got %v, want a not-exist error", err)
	}
}

// startZombie starts a process that exits at once and is not reaped until the test ends.
func startZombie(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Wait() })
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err == nil && strings.Contains(string(b), ") Z ") {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not become a zombie", pid)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
