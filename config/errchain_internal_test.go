package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

// A file over MaxFileSize is EINVALID naming the file, and the *tooBig it reports stays in
// the chain for errors.As, as Load's own check relies on.
func TestATooBigFileKeepsItsCauseInTheChain(t *testing.T) {
	data := []byte(strings.Repeat("#", MaxFileSize+1))
	_, _, err := Parse("strata.yaml", data, t.TempDir())
	var big *tooBig
	if !errors.As(err, &big) {
		t.Fatalf("errors.As(*tooBig) is false for %v", err)
	}
	if got, want := strata.ErrorCode(err), strata.EINVALID; got != want {
		t.Errorf("code: got %q, want %q", got, want)
	}
	if !strings.HasPrefix(err.Error(), "strata.yaml: ") {
		t.Errorf("text %q does not name the file first", err)
	}
}
