package step

import (
	"os"
	"testing"
)

// portableEnv, set to 1, has every test of this package start its steps with spawnPortable,
// the path macOS takes, so that it is tested on Linux too (.ci/run runs the package both ways).
const portableEnv = "STRATA_TEST_PORTABLE_SPAWN"

func TestMain(m *testing.M) {
	if os.Getenv(portableEnv) == "1" {
		spawn = spawnPortable
	}
	os.Exit(m.Run())
}
