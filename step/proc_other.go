//go:build !linux && !darwin

package step

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// GroupAlive reports whether any process is left in the process group. Without /proc a
// member that exited and waits to be reaped still counts.
func GroupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

// StartTime is not known on this system: owners are judged by their pid alone.
func StartTime(pid int) (int64, error) {
	return 0, fmt.Errorf("process %d: start time: %w", pid, errors.ErrUnsupported)
}

// processState says whether a process exists; its start time is unknown (0).
func processState(pid int) (start int64, dead bool, err error) {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return 0, false, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
	}
	return 0, false, nil
}
