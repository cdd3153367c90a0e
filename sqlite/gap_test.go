package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/sqlite"
)

// TestAMigrationThatLandedAfterAHigherOneIsApplied opens a store that a binary without the
// runbooks' migration (0015's table, here dropped and forgotten) had left, while a later one
// was recorded, as when branches land out of order: the next open applies the missing one.
func TestAMigrationThatLandedAfterAHigherOneIsApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw := openRaw(t, path)
	for _, q := range []string{`DROP TABLE webhook_deliveries`, `DROP TABLE webhook_cursor`, `DELETE FROM schema_version WHERE version = 13`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	again, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if _, err := again.CountWebhooks(context.Background()); err != nil {
		t.Fatalf("the missing migration was not applied: %v", err)
	}
	if v, err := again.StoredSchema(context.Background()); err != nil || v != strata.SchemaVersion {
		t.Errorf("stored schema %d (%v), want %d", v, err, strata.SchemaVersion)
	}
}
