package sqlite_test

import (
	"database/sql"
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
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// Drop every table later migrations made (schema 1's tables are listed here).
	schema1 := map[string]bool{"strata_store": true, "schema_version": true, "releases": true, "deployments": true,
		"logs": true, "promotions": true, "approvals": true, "freezes": true, "events": true}
	rows, err := raw.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var drop []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !schema1[name] {
			drop = append(drop, `DROP TABLE `+name)
		}
	}
	rows.Close()
	for _, q := range append(drop, `DELETE FROM schema_version WHERE version > 1`, `PRAGMA wal_checkpoint(TRUNCATE)`) {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

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
