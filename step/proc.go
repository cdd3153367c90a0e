package step

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	strata "github.com/strata-dev/strata"
)

// KillGroup stops what is left of a process group from a dead run: SIGTERM, up to grace for
// every member to exit, then SIGKILL. No such group is not an error. It refuses (EINVALID) a
// pgid that is not a real group of another process: 0, 1, negative, or this process's own.
func KillGroup(pgid int, grace time.Duration) error {
	if pgid <= 1 {
		return strata.Errorf(strata.EINVALID, "refusing to kill process group %d", pgid)
	}
	if pgid == syscall.Getpgrp() {
		return strata.Errorf(strata.EINVALID, "refusing to kill process group %d: it is Strata's own", pgid)
	}
	if !GroupAlive(pgid) {
		return nil
	}
	if err := signalGroup(pgid, syscall.SIGTERM); err != nil {
		return err
	}
	// A stopped process does not act on SIGTERM until it is continued.
	_ = signalGroup(pgid, syscall.SIGCONT)
	if waitGroup(pgid, grace) {
		return nil
	}
	if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
		return err
	}
	if waitGroup(pgid, time.Second) {
		return nil
	}
	return fmt.Errorf("kill process group %d: processes are left after SIGKILL", pgid)
}

func signalGroup(pgid int, sig syscall.Signal) error {
	err := syscall.Kill(-pgid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send %s to process group %d: %w", sig, pgid, err)
	}
	return nil
}

// waitGroup polls until no live process is left in the group or d has passed.
func waitGroup(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !GroupAlive(pgid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// GroupAlive reports whether any process is left in the process group. Zombies do not count:
// they have exited and only wait to be reaped.
func GroupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	// kill(-pgid, 0) is cheap and says when there is nothing at all, zombies included.
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell; say alive so that nobody takes over too early
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // exited while we looked
		}
		if st.pgrp == pgid && !st.dead() {
			return true
		}
	}
	return false
}

// Self returns this process's strata.Owner: the hostname, the pid and the process start time.
func Self() strata.Owner {
	host, _ := os.Hostname()
	pid := os.Getpid()
	start, _ := StartTime(pid)
	return strata.Owner{Host: host, PID: pid, Start: start}
}

// StartTime returns a process's start time in clock ticks since boot (field 22 of
// /proc/PID/stat), or an error when there is no such process.
func StartTime(pid int) (int64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.start, nil
}

// Alive reports whether the owner process is still running on this host: the same pid with
// the same start time (a reused pid is not alive; an exited process awaiting its reaper is
// not alive). An owner without a recorded start time is judged by its pid alone. Owners on
// other hosts are reported alive: there, the lease decides.
func Alive(o strata.Owner) bool {
	host, err := os.Hostname()
	if err != nil || o.Host != host {
		return true
	}
	if o.PID <= 0 {
		return false
	}
	st, err := readStat(o.PID)
	if err != nil || st.dead() {
		return false
	}
	return o.Start == 0 || st.start == o.Start
}

// stat is the part of /proc/PID/stat that Strata reads.
type stat struct {
	state byte
	pgrp  int
	start int64
}

// dead reports a zombie ('Z') or a process being torn down ('X').
func (s stat) dead() bool { return s.state == 'Z' || s.state == 'X' }

func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return stat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	st, err := parseStat(b)
	if err != nil {
		return stat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return st, nil
}

// parseStat reads "pid (comm) state ppid pgrp ... starttime ...". The command name may hold
// spaces and parentheses, so the fields are counted from the last ')'.
func parseStat(b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, errors.New("malformed /proc stat: no ')'")
	}
	// After ") " come fields 3 (state), 4 (ppid), 5 (pgrp), ... 22 (starttime).
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, errors.New("malformed /proc stat: too few fields")
	}
	pgrp, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return stat{}, fmt.Errorf("malformed /proc stat: pgrp: %w", err)
	}
	start, err := strconv.ParseInt(string(f[19]), 10, 64)
	if err != nil {
		return stat{}, fmt.Errorf("malformed /proc stat: starttime: %w", err)
	}
	return stat{state: f[0][0], pgrp: pgrp, start: start}, nil
}
