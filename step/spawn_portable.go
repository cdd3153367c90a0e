package step

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// spawnPortable starts a step with os/exec, on every Unix: where spawnFast cannot run
// (macOS has no pipe2), and in tests on Linux, so that this path is tested too. Like
// spawnFast it runs /bin/sh -c s.Command in a new process group (Setpgid, so that a timeout
// or `resume` kills the whole group with kill(-pgid)), with stdin from /dev/null and stdout
// and stderr both on the write end of one pipe that the caller's goroutine reads.
func spawnPortable(s Spec) (*process, error) {
	env, err := environ(s.Env)
	if err != nil {
		return nil, err
	}
	if env == nil {
		env = []string{} // os/exec reads nil as "inherit this process's environment"
	}
	cmd := exec.Command("/bin/sh", "-c", s.Command)
	cmd.Dir = s.Dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var r, w *os.File
	if s.Output != nil {
		// *os.File ends, so that os/exec hands the write end to the shell as it is and
		// starts no copying goroutine of its own. os.Pipe makes both close-on-exec: another
		// step's shell never inherits them.
		if r, w, err = os.Pipe(); err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = w, w
	}
	err = cmd.Start()
	if w != nil {
		w.Close()
	}
	if err != nil {
		if r != nil {
			r.Close()
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, startError(s.Dir, err)
	}
	p := &process{pid: cmd.Process.Pid, wait: func() (syscall.WaitStatus, error) {
		err := cmd.Wait()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = nil // a status other than 0 is the caller's to judge
		}
		if cmd.ProcessState == nil {
			return 0, err
		}
		status, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		return status, err
	}}
	if r != nil {
		p.startCopy(s.Output, r)
	}
	return p, nil
}
