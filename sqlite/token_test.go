package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/sqlite"
)

func TestAStoreOfSchemaTwoGainsTokensWhenOpened(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEnvironment(t.Context(), &strata.EphemeralEnv{Name: "pr-1", Like: "dev"}, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Make it a schema 2 store again, as a binary before tokens left it.
	downgrade(t, path, 2)

	db, err = sqlite.Open(path, nil)
	if err != nil {
		t.Fatalf("reopen a schema 2 store: %v", err)
	}
	defer db.Close()
	secret, hash := strata.NewTokenSecret()
	if err := db.CreateToken(t.Context(), &strata.Token{Name: "ci", Role: strata.RoleViewer, Hash: hash}, nil); err != nil {
		t.Fatalf("create a token in the migrated store: %v", err)
	}
	if _, err := db.TokenByHash(t.Context(), strata.HashToken(secret)); err != nil {
		t.Errorf("find the token: %v", err)
	}
	envs, err := db.Environments(t.Context())
	if err != nil || len(envs) != 1 {
		t.Errorf("the environment from before the migration: %v, %v", envs, err)
	}
}

func TestTheStoreFileNeverHoldsATokensSecret(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, hash := strata.NewTokenSecret()
	if err := db.CreateToken(t.Context(), &strata.Token{Name: "ci", Role: strata.RoleAdmin, Hash: hash},
		&strata.Event{Actor: "alice", Action: "token.create"}); err != nil {
		t.Fatal(err)
	}
	// Read every file the store wrote (the database and its write-ahead log) while it is open.
	files, _ := filepath.Glob(path + "*")
	var found bool
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(hash)) {
			found = true
		}
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(strings.TrimPrefix(secret, "strata_"))) {
			t.Errorf("%s holds the token's secret", f)
		}
	}
	if !found {
		t.Errorf("no store file holds the token's hash; the test read the wrong files: %v", files)
	}
	db.Close()
}
