package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/step"
)

// scratchCache is what engines remember of their scratch directories: by state directory,
// since copies of an engine share it.
type scratchCache struct {
	mu   sync.Mutex
	dirs map[string]string // StateDir → its scratch directory
	made map[string]bool   // service directories made in them
}

// writeScratch writes a deployment's config to its pair's config file and clears the pair's
// outputs file, returning both paths. The scratch directory is found once per engine; when
// it has gone since (a tmpfs cleaned), it is found and made again.
func (e *Engine) writeScratch(d *strata.Deployment, cfg []byte) (cfgPath, outPath string, err error) {
	dir := e.serviceScratch(d.Service, false)
	for try := 0; ; try++ {
		cfgPath, outPath = filepath.Join(dir, d.Environment+".config.json"), filepath.Join(dir, d.Environment+".outputs")
		err = rewrite(cfgPath, cfg)
		if errors.Is(err, fs.ErrNotExist) && try == 0 {
			dir = e.serviceScratch(d.Service, true)
			continue
		}
		if err != nil {
			return "", "", err
		}
		// unlink alone: os.Remove tries rmdir as well when unlink fails, and the file is
		// usually absent.
		if err := syscall.Unlink(outPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", "", &fs.PathError{Op: "remove", Path: outPath, Err: err}
		}
		return cfgPath, outPath, nil
	}
}

// dropScratch clears a deployment's scratch files once its step has ended and its outputs
// were read: the outputs file is removed and the config emptied when it holds secrets, so
// neither outlives the step holding a secret. A failure is reported, not returned: the
// deployment itself went as it went.
func dropScratch(cfgPath, outPath string, secrets bool) {
	var errs []error
	if err := syscall.Unlink(outPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, &fs.PathError{Op: "remove", Path: outPath, Err: err})
	}
	if secrets {
		errs = append(errs, rewrite(cfgPath, nil))
	}
	if err := errors.Join(errs...); err != nil {
		slog.Warn("a step's scratch files are left", "err", err)
	}
}

// serviceScratch returns service's scratch directory. The first call, and any with again,
// finds the scratch directory afresh (checking it is ours) and makes service's in it.
func (e *Engine) serviceScratch(service string, again bool) string {
	c := e.scratch
	if c == nil { // an Engine not made by New
		dir := filepath.Join(e.scratchDir(), service)
		os.MkdirAll(dir, 0o700)
		return dir
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	root, ok := c.dirs[e.StateDir]
	if !ok || again {
		root = e.scratchDir()
		c.dirs[e.StateDir] = root
	}
	dir := filepath.Join(root, service)
	if !c.made[dir] || again {
		// An error shows when the file is written in it.
		os.MkdirAll(dir, 0o700)
		c.made[dir] = true
	}
	return dir
}

// scratchDir is where this process keeps steps' scratch files ($STRATA_CONFIG,
// $STRATA_OUTPUTS) for e's state directory. The process's own directory is on a tmpfs of
// this user's ($XDG_RUNTIME_DIR, else /dev/shm) when there is one, so that the resolved
// config, secrets included, stays in memory; else under StateDir/run. It is named after the
// process (pid and start time) so that the next Strata can tell whether its owner still runs
// (ClearScratch), and holds one directory per state directory, so two projects run by one
// process never share a file.
func (e *Engine) scratchDir() string {
	me := scratchOwner()
	if abs, err := filepath.Abs(e.StateDir); err == nil {
		sum := sha256.Sum256([]byte(abs))
		for _, root := range scratchRoots() {
			dir := filepath.Join(root, "strata-"+me)
			if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
				continue
			}
			if !ownedPrivateDir(dir) {
				continue
			}
			ownScratch.add(dir)
			project := filepath.Join(dir, hex.EncodeToString(sum[:6]))
			if err := os.Mkdir(project, 0o700); err != nil && !os.IsExist(err) {
				continue
			}
			return project
		}
	}
	dir := filepath.Join(e.StateDir, "run", me)
	// An error shows when the file is written in it.
	os.MkdirAll(dir, 0o700)
	ownScratch.add(dir)
	return dir
}

// scratchRoots are the tmpfs directories a scratch directory may live in, best first.
func scratchRoots() []string {
	var roots []string
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		roots = append(roots, d)
	}
	return append(roots, "/dev/shm")
}

// self is this process as an owner of scratch directories: the process itself rather than
// Engine.Owner, which tests and agents may set to someone else's.
var self = sync.OnceValue(step.Self)

// scratchOwner names this process's scratch directories: "PID-START".
func scratchOwner() string {
	o := self()
	return strconv.Itoa(o.PID) + "-" + strconv.FormatInt(o.Start, 10)
}

// parseScratchOwner reads a name scratchOwner made; ok is false for any other name.
func parseScratchOwner(name string) (o strata.Owner, ok bool) {
	pid, start, found := strings.Cut(name, "-")
	if !found {
		return o, false
	}
	p, err1 := strconv.Atoi(pid)
	s, err2 := strconv.ParseInt(start, 10, 64)
	if err1 != nil || err2 != nil || p <= 0 || s < 0 || strconv.Itoa(p) != pid || strconv.FormatInt(s, 10) != start {
		return o, false
	}
	return strata.Owner{Host: self().Host, PID: p, Start: s}, true
}

// ownScratch is the set of scratch directories this process made, which RemoveScratch
// removes at exit.
var ownScratch = &dirSet{dirs: map[string]bool{}}

type dirSet struct {
	mu   sync.Mutex
	dirs map[string]bool
}

func (s *dirSet) add(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirs[dir] = true
}

// RemoveScratch removes the scratch directories this process made, with every config and
// outputs file in them: main calls it as the process exits, so no secret it handed a step
// is left in a file. An engine used afterwards makes its directory again.
func RemoveScratch() error {
	ownScratch.mu.Lock()
	defer ownScratch.mu.Unlock()
	var errs []error
	for dir := range ownScratch.dirs {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove scratch directory: %w", err))
		}
		delete(ownScratch.dirs, dir)
	}
	return errors.Join(errs...)
}

// ClearScratch removes the scratch directories that Strata processes of this user left
// behind when they died without RemoveScratch (killed, or the machine lost power), on the
// tmpfs roots and under stateDir/run ("" skips those). A directory whose process still runs
// (the same pid with the same start time) is kept: another strata may be deploying. One
// named otherwise (made by a Strata before directories were named after their process) is
// kept too, since nothing tells whether its owner still runs.
func ClearScratch(stateDir string) error {
	var errs []error
	for _, root := range scratchRoots() {
		errs = append(errs, clearDead(root, "strata-"))
	}
	if stateDir != "" {
		errs = append(errs, clearDead(filepath.Join(stateDir, "run"), ""))
	}
	return errors.Join(errs...)
}

// clearDead removes the entries of root named prefix+"PID-START" that are private
// directories of this user whose process is gone.
func clearDead(root, prefix string) error {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clear scratch directories: %w", err)
	}
	var errs []error
	for _, ent := range entries {
		name, ok := strings.CutPrefix(ent.Name(), prefix)
		if !ok || !ent.IsDir() {
			continue
		}
		owner, ok := parseScratchOwner(name)
		if !ok || step.Alive(owner) {
			continue
		}
		dir := filepath.Join(root, ent.Name())
		if !ownedPrivateDir(dir) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("clear scratch directory of dead process %d: %w", owner.PID, err))
		}
	}
	return errors.Join(errs...)
}

// ownedPrivateDir reports whether path is a real directory (not a symlink) that this user
// owns and nobody else may enter: a shared tmpfs must not hand our secrets to a directory
// someone else made first.
func ownedPrivateDir(path string) bool {
	info, err := os.Lstat(path)
	if err != nil || !info.IsDir() || info.Mode().Perm()&0o077 != 0 {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// rewrite replaces the content of the file at path (made, mode 0600, when absent) with b.
// It overwrites in place and cuts what is left after b, rather than truncating first: on a
// tmpfs, truncating frees the file's page and the write allocates it again, which made
// writing the config the dearest part of a deployment after the store and the fork.
func rewrite(path string, b []byte) error {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	for off := 0; off < len(b); {
		n, err := syscall.Pwrite(fd, b[off:], int64(off))
		if err != nil {
			syscall.Close(fd)
			return &fs.PathError{Op: "write", Path: path, Err: err}
		}
		off += n
	}
	if err := syscall.Ftruncate(fd, int64(len(b))); err != nil {
		syscall.Close(fd)
		return &fs.PathError{Op: "truncate", Path: path, Err: err}
	}
	if err := syscall.Close(fd); err != nil {
		return &fs.PathError{Op: "close", Path: path, Err: err}
	}
	return nil
}
