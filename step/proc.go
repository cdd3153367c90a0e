package step

import (
	"errors"
	"fmt"
	"os"
	"sync"
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

// Self returns this process's strata.Owner: the hostname, the pid and the process start time.
func Self() strata.Owner {
	host, _ := os.Hostname()
	return strata.Owner{Host: host, PID: os.Getpid(), Start: selfStart()}
}

// selfStart is this process's start time, read once: an agent makes an engine, and so an
// owner, for every job it runs.
var selfStart = sync.OnceValue(func() int64 {
	start, _ := StartTime(os.Getpid())
	return start
})

// Alive reports whether the owner process is still running on this host: the same pid with
// the same start time (a reused pid is not alive; an exited process awaiting its reaper is
// not alive). An owner without a recorded start time, or on a system where start times
// cannot be read, is judged by its pid alone. Owners on other hosts are reported alive:
// there, the lease decides.
func Alive(o strata.Owner) bool {
	host, err := os.Hostname()
	if err != nil || o.Host != host {
		return true
	}
	if o.PID <= 0 {
		return false
	}
	start, dead, err := processState(o.PID)
	if err != nil || dead {
		return false
	}
	return o.Start == 0 || start == 0 || start == o.Start
}
