package step

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// process is a running step started with syscall.ForkExec rather than os/exec: os/exec
// registers the output pipe and a pidfd with the netpoller, reads back a second pipe for
// exec errors and starts bookkeeping goroutines, which with hundreds of short steps on a
// small machine is CPU that the steps themselves do not get (BenchmarkRun compares the
// two). Here the output is one blocking pipe read by one goroutine, and Run reaps the shell
// with a blocking wait4.
type process struct {
	pid int

	// status and waitErr are set by reap.
	status  syscall.WaitStatus
	waitErr error

	// out and copied are nil when the step's output is discarded. copied is closed when
	// the pipe reached end of file or failed to read; readErr is set then.
	out     *sink
	copied  chan struct{}
	readErr error
}

// spawn starts /bin/sh -c s.Command in a new process group, with stdin from /dev/null and
// stdout and stderr both on the write end of one pipe, so that their order is kept (both on
// /dev/null when s.Output is nil, so there is nothing to read).
func spawn(s Spec) (*process, error) {
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

	p := &process{pid: pid}
	if s.Output != nil {
		p.out = &sink{w: s.Output}
		p.copied = make(chan struct{})
		go p.copy(pipe[0])
	}
	return p, nil
}

// reap waits for the shell to exit. Run calls it on every path once spawn succeeded, so no
// shell is left a zombie.
func (p *process) reap() {
	var err error
	for {
		_, err = syscall.Wait4(p.pid, &p.status, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		p.waitErr = os.NewSyscallError("wait4", err)
	}
}

// copy reads the output pipe into the sink until every writer has closed it, then closes
// the read end. It is the only user of fd, so no other goroutine may close it.
func (p *process) copy(fd int) {
	defer close(p.copied)
	defer syscall.Close(fd)
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	for {
		n, err := syscall.Read(fd, *buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			p.readErr = os.NewSyscallError("read", err)
			return
		}
		if n == 0 {
			return
		}
		p.out.Write((*buf)[:n])
	}
}

// awaitOutput waits for the end of the output of a shell that has exited, for at most
// grace: a background process the shell started may hold the pipe open for as long as it
// runs. A blocking read cannot be interrupted, so in that case the copy goroutine is left
// draining the pipe (one OS thread blocked in read) until the last writer closes it, and
// the sink is closed so that nothing more reaches Spec.Output after Run returns. It reports
// whether the output was read to its end.
func (p *process) awaitOutput(grace time.Duration) (complete bool) {
	if p.out == nil {
		return true
	}
	select {
	case <-p.copied:
		complete = true
	default:
		t := time.NewTimer(grace)
		select {
		case <-p.copied:
			complete = true
		case <-t.C:
		}
		t.Stop()
	}
	p.out.close()
	return complete
}

// exitCode is the shell's exit status, 128+signal when a signal killed it (as shells
// report it), or -1 when it could not be reaped.
func (p *process) exitCode() int {
	switch {
	case p.waitErr != nil:
		return -1
	case p.status.Signaled():
		return 128 + int(p.status.Signal())
	default:
		return p.status.ExitStatus()
	}
}

// sink passes output on and remembers the first error instead of returning it: if the
// writer fails (a full disk, a closed terminal) the step must not block on a full pipe.
// Once closed it drops what it is given, so a copy goroutine left draining a pipe never
// writes to the caller's writer after Run returned.
type sink struct {
	mu     sync.Mutex
	w      io.Writer
	err    error
	closed bool
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.err == nil {
		if _, err := s.w.Write(p); err != nil {
			s.err = err
		}
	}
	return len(p), nil
}

// close waits for a write in progress, stops further ones and returns the first error.
func (s *sink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.err
}

// copyBuffers hold a step's output on its way from the pipe to the sink: a buffer per
// process made the garbage collector a tenth of a large promotion's work.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// environ returns env without duplicate keys, keeping the last value of each (the caller
// appends overrides), as os/exec does; an entry holding a NUL byte is an error.
func environ(env []string) ([]string, error) {
	if len(env) == 0 {
		return nil, nil // ForkExec reads nil as an empty environment, not an inherited one.
	}
	seen := make(map[string]struct{}, len(env))
	out := make([]string, len(env))
	j := len(out)
	for i := len(env) - 1; i >= 0; i-- {
		kv := env[i]
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, errors.New("environment variable contains NUL")
		}
		if kv == "" {
			continue
		}
		eq := strings.IndexByte(kv, '=')
		if eq == 0 {
			eq = strings.IndexByte(kv[1:], '=') + 1 // a leading '=' belongs to the key
		}
		if eq < 0 {
			j-- // not KEY=value; passed on as it is, as os/exec does
			out[j] = kv
			continue
		}
		k := kv[:eq]
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		j--
		out[j] = kv
	}
	return out[j:], nil
}

// startError says why a step could not start. ForkExec reports a chdir failure and an exec
// failure alike (ENOENT for a missing Dir reads as a missing /bin/sh), so a Dir that cannot
// be entered is named; this costs a stat only on failure.
func startError(dir string, err error) error {
	if dir != "" {
		if fi, serr := os.Stat(dir); serr != nil {
			var pe *os.PathError
			if errors.As(serr, &pe) {
				return &os.PathError{Op: "chdir", Path: dir, Err: pe.Err}
			}
			return serr
		} else if !fi.IsDir() {
			return &os.PathError{Op: "chdir", Path: dir, Err: syscall.ENOTDIR}
		}
	}
	return &os.PathError{Op: "fork/exec", Path: "/bin/sh", Err: err}
}

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
