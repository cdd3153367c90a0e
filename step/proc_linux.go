//go:build linux

package step

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

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

// StartTime returns a process's start time in clock ticks since boot (field 22 of
// /proc/PID/stat), or an error when there is no such process.
func StartTime(pid int) (int64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.start, nil
}

// processState returns a process's start time and whether it is dead (a zombie, or being
// torn down), from /proc.
func processState(pid int) (start int64, dead bool, err error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, false, err
	}
	return st.start, st.dead(), nil
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
