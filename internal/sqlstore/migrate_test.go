package sqlstore_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/strata-dev/strata/internal/sqlstore"
)

func TestMigrations(t *testing.T) {
	tests := []struct {
		name    string
		own     fstest.MapFS
		want    string // the first migration's SQL starts so and holds the shared indexes
		wantErr string
	}{
		{"a store's 0001 is followed by the indexes every database shares",
			fstest.MapFS{"m/0001_init.sql": {Data: []byte("CREATE TABLE x (a int);")}, "m/0002_more.sql": {Data: []byte("SELECT 1;")}},
			"CREATE TABLE x (a int);\n", ""},
		{"a store without a 0001 cannot take the shared part",
			fstest.MapFS{"m/0002_more.sql": {Data: []byte("SELECT 1;")}},
			"", "has no migration 0001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := sqlstore.Migrations(tt.own, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(ms), 2; got != want {
				t.Fatalf("%d migrations, want %d", got, want)
			}
			first := ms[0].SQL
			if !strings.HasPrefix(first, tt.want) || !strings.Contains(first, "CREATE UNIQUE INDEX deployments_claim") {
				t.Errorf("migration 1 = %q, want the store's own SQL then the shared indexes", first)
			}
			if got := ms[1].SQL; got != "SELECT 1;" {
				t.Errorf("migration 2 = %q, want the store's own SQL alone", got)
			}
		})
	}
}
