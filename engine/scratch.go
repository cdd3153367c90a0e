package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
)

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
