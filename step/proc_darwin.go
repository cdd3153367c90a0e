package step

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// GroupAlive reports whether any process is left in the process group. macOS has no /proc
// to tell zombies apart, so a member that exited and waits to be reaped still counts.
func GroupAlive(pgid int) bool { return groupSignalable(pgid) }

// StartTime returns a process's start time in microseconds since the epoch (the kernel's
// kinfo_proc), or an error when there is no such process.
func StartTime(pid int) (int64, error) {
	start, _, err := processState(pid)
	return start, err
}

// processState returns a process's start time and whether it is a zombie, from the
// kern.proc.pid sysctl.
func processState(pid int) (start int64, dead bool, err error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || k.Proc.P_pid != int32(pid) {
		return 0, false, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
	}
	const zombie = 5 // SZOMB in sys/proc.h
	t := k.Proc.P_starttime
	return int64(t.Sec)*1e6 + int64(t.Usec), k.Proc.P_stat == zombie, nil
}

// groupSignalable reports whether kill(-pgid, 0) finds a process: ESRCH says none is left.
func groupSignalable(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}
