package step

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a running step, however it was started (spawn_linux.go, spawn_portable.go).
type process struct {
	pid int
	// wait waits for the shell to exit and returns its status; an exit status other than
	// 0 is not an error.
	wait func() (syscall.WaitStatus, error)

	// status and waitErr are set by reap.
	status  syscall.WaitStatus
	waitErr error

	// out and copied are nil when the step's output is discarded. copied is closed when
	// the pipe reached end of file or failed to read; readErr is set then.
	out     *sink
	copied  chan struct{}
	readErr error
}

// startCopy has the step's output read from r into Spec.Output by a goroutine of its own.
func (p *process) startCopy(w io.Writer, r io.ReadCloser) {
	p.out = &sink{w: w}
	p.copied = make(chan struct{})
	go p.copy(r)
}

// reap waits for the shell to exit. Run calls it on every path once spawn succeeded, so no
// shell is left a zombie.
func (p *process) reap() {
	p.status, p.waitErr = p.wait()
}

// copy reads the output pipe into the sink until every writer has closed it, then closes
// the read end. It is the only user of r, so no other goroutine may close it.
func (p *process) copy(r io.ReadCloser) {
	defer close(p.copied)
	defer r.Close()
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	for {
		n, err := r.Read(*buf)
		if n > 0 {
			p.out.Write((*buf)[:n])
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			p.readErr = err
			return
		}
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
