package http_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/sqlite"
)

// What the API, dashboard and benchmark fixtures share: a project on disk, its store, and
// the tokens tests act with.

// writeProject writes yaml as the strata.yaml of a new project directory and returns it.
func writeProject(tb testing.TB, yaml string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(yaml), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// loadProject loads the project in dir; any problem in it fails the test.
func loadProject(tb testing.TB, dir string) *strata.Project {
	tb.Helper()
	p, probs, err := config.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if err := probs.Err(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// openStore opens the SQLite store of the project in dir, through a connection of its own
// that is closed when the test ends.
func openStore(tb testing.TB, dir string) *sqlite.DB {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(dir, ".strata", "state.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// testToken is a token a fixture makes: its principal, role and scope (nil for every
// environment).
type testToken struct {
	name, role string
	envs       []map[string]string
}

// makeTokens stores tokens in st and returns each principal's secret.
func makeTokens(tb testing.TB, st strata.Store, tokens []testToken) map[string]string {
	tb.Helper()
	secrets := map[string]string{}
	for _, tk := range tokens {
		secret, hash := strata.NewTokenSecret()
		if err := st.CreateToken(context.Background(), &strata.Token{Name: tk.name, Role: tk.role, Envs: tk.envs, Hash: hash, CreatedBy: "test"}, nil); err != nil {
			tb.Fatal(err)
		}
		secrets[tk.name] = secret
	}
	return secrets
}
