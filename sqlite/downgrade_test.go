package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// downgrade makes the store at path (closed) a store of schema version to again, as a
// binary of that time left it: it drops the tables, indexes and columns that later
// migrations added, found by comparing with a store built by migrations 1 to `to` alone, and
// forgets the later migrations. Tests of a migration use it to open an old store.
func downgrade(t *testing.T, path string, to int) {
	t.Helper()
	ref := filepath.Join(t.TempDir(), "reference.db")
	refDB := openRaw(t, ref)
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		prefix, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.Atoi(prefix); err != nil || v > to {
			continue
		}
		b, err := os.ReadFile(filepath.Join("migrations", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := refDB.Exec(string(b)); err != nil {
			t.Fatalf("reference store: %s: %v", e.Name(), err)
		}
	}
	want := shape(t, refDB)
	refDB.Close()

	raw := openRaw(t, path)
	defer raw.Close()
	got := shape(t, raw)
	var qs []string
	for _, idx := range got.indexes {
		if !slices.Contains(want.indexes, idx) {
			qs = append(qs, `DROP INDEX `+idx)
		}
	}
	for table, cols := range got.columns {
		wantCols, ok := want.columns[table]
		if !ok {
			qs = append(qs, `DROP TABLE `+table)
			continue
		}
		for _, c := range cols {
			if !slices.Contains(wantCols, c) {
				qs = append(qs, `ALTER TABLE `+table+` DROP COLUMN `+c)
			}
		}
	}
	qs = append(qs, `DELETE FROM schema_version WHERE version > `+strconv.Itoa(to), `PRAGMA wal_checkpoint(TRUNCATE)`)
	for _, q := range qs {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// schemaShape is what downgrade compares: each table's columns, and the named indexes.
type schemaShape struct {
	columns map[string][]string
	indexes []string
}

func shape(t *testing.T, db *sql.DB) schemaShape {
	t.Helper()
	s := schemaShape{columns: map[string][]string{}}
	rows, err := db.Query(`SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND (type = 'table' OR (type = 'index' AND sql IS NOT NULL))`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			t.Fatal(err)
		}
		if typ == "index" {
			s.indexes = append(s.indexes, name)
		} else {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, table := range tables {
		cols, err := db.Query(`SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		for cols.Next() {
			var c string
			if err := cols.Scan(&c); err != nil {
				t.Fatal(err)
			}
			s.columns[table] = append(s.columns[table], c)
		}
		cols.Close()
	}
	return s
}

func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}
