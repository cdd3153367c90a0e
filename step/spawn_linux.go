//go:build linux

package step

import (
	"io"
	"os"
	"sync/atomic"
	"syscall"
)

// spawn is how Run starts a step: on Linux, spawnFast.
var spawn = spawnFast

// spawnFast starts a step with syscall.ForkExec rather than os/exec: os/exec registers the
// output pipe and a pidfd with the netpoller, reads back a second pipe for exec errors and
// starts bookkeeping goroutines, which with hundreds of short steps on a small machine is
// CPU that the steps themselves do not get (BenchmarkRun compares the two). Here the output
// is one blocking pipe read by one goroutine, and Run reaps the shell with a blocking wait4.
// It needs pipe2, which Linux has and macOS does not; spawnPortable does the same elsewhere.
//
// The shell runs /bin/sh -c s.Command in a new process group, with stdin from /dev/null and
// stdout and stderr both on the write end of one pipe, so that their order is kept (both on
// /dev/null when s.Output is nil, so there is nothing to read).
func spawnFast(s Spec) (*process, error) {
	env, err := environ(s.Env)
	if err != nil {
		return nil, err
	}
	in, err := nullIn.get()
	if err != nil {
		return nil, err
	}
	files := []uintptr{uintptr(in), 0, 0}
	var pipe [2]int
	if s.Output == nil {
		out, err := nullOut.get()
		if err != nil {
			return nil, err
		}
		files[1], files[2] = uintptr(out), uintptr(out)
	} else {
		// Both ends are close-on-exec, so a step started at the same moment on another
		// goroutine does not inherit them: a write end kept open in another step's shell
		// would hold this step's reader until that shell ended. ForkExec's dup2 onto the
		// child's 1 and 2 clears the flag there, and only there.
		if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC); err != nil {
			return nil, os.NewSyscallError("pipe2", err)
		}
		files[1], files[2] = uintptr(pipe[1]), uintptr(pipe[1])
	}
	pid, err := syscall.ForkExec("/bin/sh", []string{"/bin/sh", "-c", s.Command}, &syscall.ProcAttr{
		Dir:   s.Dir,
		Env:   env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if s.Output != nil {
		syscall.Close(pipe[1])
	}
	if err != nil {
		if s.Output != nil {
			syscall.Close(pipe[0])
		}
		return nil, startError(s.Dir, err)
	}

	p := &process{pid: pid, wait: func() (syscall.WaitStatus, error) { return wait4(pid) }}
	if s.Output != nil {
		p.startCopy(s.Output, fdReader(pipe[0]))
	}
	return p, nil
}

// wait4 waits for the process pid to exit, with a blocking wait4.
func wait4(pid int) (syscall.WaitStatus, error) {
	var status syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &status, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return status, os.NewSyscallError("wait4", err)
		}
		return status, nil
	}
}

// fdReader reads a blocking pipe with plain read calls, without os.File's bookkeeping.
type fdReader int

func (f fdReader) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(int(f), b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("read", err)
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f fdReader) Close() error { return syscall.Close(int(f)) }

// lazyFD is /dev/null opened once for all steps, read-only for stdin and write-only for a
// step whose output is discarded. It is opened on first use and only kept once opened, so
// a failure (out of descriptors) is not remembered past the step it failed.
type lazyFD struct {
	mode int
	fd   atomic.Int64 // the descriptor plus one; 0 until opened
}

var (
	nullIn  = &lazyFD{mode: syscall.O_RDONLY}
	nullOut = &lazyFD{mode: syscall.O_WRONLY}
)

func (l *lazyFD) get() (int, error) {
	if fd := l.fd.Load(); fd > 0 {
		return int(fd - 1), nil
	}
	fd, err := syscall.Open(os.DevNull, l.mode|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: os.DevNull, Err: err}
	}
	if !l.fd.CompareAndSwap(0, int64(fd)+1) {
		syscall.Close(fd) // another step opened it first
	}
	return int(l.fd.Load() - 1), nil
}
