package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/sqlite"
)

func TestAStoreOfSchemaOneGainsShortLivedEnvironmentsWhenOpened(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRelease(t.Context(), &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Make it a schema 1 store again, as a binary before short-lived environments left it.
	downgrade(t, path, 1)

	db, err = sqlite.Open(path, nil)
	if err != nil {
		t.Fatalf("reopen a schema 1 store: %v", err)
	}
	defer db.Close()
	if err := db.CreateEnvironment(t.Context(), &strata.EphemeralEnv{Name: "pr-1", Like: "dev"}, nil); err != nil {
		t.Fatalf("create an environment in the migrated store: %v", err)
	}
	if _, err := db.Release(t.Context(), "api", "1"); err != nil {
		t.Errorf("the release from before the migration is gone: %v", err)
	}
}
