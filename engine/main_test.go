package engine_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/strata-dev/strata/engine"
)

// TestMain removes the scratch directories the tests' deployments made, as cmd/strata's main
// does at exit: a test binary must not leave its steps' config files behind either.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := engine.RemoveScratch(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}
