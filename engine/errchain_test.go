package engine_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// The errors CopyArtifacts returns name --artifact in their text and keep the file system's
// error in their chain, so that errors.Is finds it, while the code stays the outer one.
func TestCopyArtifactsErrorsKeepTheFileSystemCauseInTheirChain(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.tar")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "gone"), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		want  error
	}{
		{"a missing artifact wraps fs.ErrNotExist", []string{filepath.Join(dir, "missing")}, fs.ErrNotExist},
		{"a dangling link wraps fs.ErrNotExist", []string{link}, fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := engine.CopyArtifacts(t.TempDir(), tc.paths)
			if err == nil {
				t.Fatal("got no error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("errors.Is(%v) is false for %q", tc.want, err)
			}
			if got, want := strata.ErrorCode(err), strata.EINVALID; got != want {
				t.Errorf("code: got %q, want %q", got, want)
			}
			if got := strata.ExitStatus(err); got != 2 {
				t.Errorf("exit status: got %d, want 2", got)
			}
		})
	}
}
