package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/strata-dev/strata"
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

// scratchDir is where steps' scratch files ($STRATA_CONFIG, $STRATA_OUTPUTS) live: a
// directory of this user's on a tmpfs ($XDG_RUNTIME_DIR, else /dev/shm) when there is one,
// so that the resolved config, secrets included, stays in memory; else StateDir/run. The
// directory is named after the state directory, so two projects never share it.
func (e *Engine) scratchDir() string {
	fallback := filepath.Join(e.StateDir, "run")
	abs, err := filepath.Abs(e.StateDir)
	if err != nil {
		return fallback
	}
	sum := sha256.Sum256([]byte(abs))
	name := "strata-" + hex.EncodeToString(sum[:6])
	for _, root := range []string{os.Getenv("XDG_RUNTIME_DIR"), "/dev/shm"} {
		if root == "" {
			continue
		}
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
			continue
		}
		if ownedPrivateDir(dir) {
			return dir
		}
	}
	return fallback
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
