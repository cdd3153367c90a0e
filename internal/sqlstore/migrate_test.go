package sqlstore_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/strata-dev/strata/internal/sqlstore"
)

// TestMigrationsJoinAStoresOwnAndTheSharedOnes: a number both have is the store's own SQL
// then the shared SQL, in one migration; a number only one has is that one alone; all in
// order of number.
func TestMigrationsJoinAStoresOwnAndTheSharedOnes(t *testing.T) {
	own := fstest.MapFS{
		"m/0001_init.sql":   {Data: []byte("CREATE TABLE x (a int);")},
		"m/0002_more.sql":   {Data: []byte("SELECT 2;")},
		"m/0017_groups.sql": {Data: []byte("CREATE TABLE switches (id text);")},
	}
	ms, err := sqlstore.Migrations(own, "m")
	if err != nil {
		t.Fatal(err)
	}
	byVersion := map[int]string{}
	last := 0
	for _, m := range ms {
		if m.Version <= last {
			t.Errorf("migration %d follows %d: want them in order, each once", m.Version, last)
		}
		last = m.Version
		byVersion[m.Version] = m.SQL
	}
	cases := []struct {
		name       string
		version    int
		prefix     string // the migration starts so
		holds      string // and holds this
		notHolding string
	}{
		{"a store's 0001 is followed by the indexes every database shares", 1, "CREATE TABLE x (a int);\n", "CREATE UNIQUE INDEX deployments_claim", ""},
		{"a number only the store has is its own SQL alone", 2, "SELECT 2;", "SELECT 2;", "CREATE"},
		{"a number only the shared migrations have stands alone", 10, "-- 0010", "CREATE TABLE IF NOT EXISTS agents", "CREATE TABLE x"},
		{"a number both have joins the store's table and the shared indexes", 17, "CREATE TABLE switches (id text);\n", "CREATE TABLE IF NOT EXISTS group_live", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := byVersion[c.version]
			switch {
			case !ok:
				t.Fatalf("no migration %d", c.version)
			case !strings.HasPrefix(got, c.prefix) || !strings.Contains(got, c.holds):
				t.Errorf("migration %d = %q, want it to start %q and hold %q", c.version, got, c.prefix, c.holds)
			case c.notHolding != "" && strings.Contains(got, c.notHolding):
				t.Errorf("migration %d = %q holds %q", c.version, got, c.notHolding)
			}
		})
	}
}
