package sqlstore

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/strata-dev/strata/internal/sqlrow"
)

//go:embed migrations/*.sql
var shared embed.FS

// Migrations returns a store's migrations: its own SQL files of dir in fsys (the tables, in
// its database's types), each followed by the statements of the same number that every
// database reads alike (this package's migrations/), in one transaction.
func Migrations(fsys fs.FS, dir string) ([]sqlrow.Migration, error) {
	own, err := sqlrow.Migrations(fsys, dir)
	if err != nil {
		return nil, err
	}
	common, err := sqlrow.Migrations(shared, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]int{}
	for i, m := range own {
		byVersion[m.Version] = i
	}
	for _, c := range common {
		i, ok := byVersion[c.Version]
		if !ok {
			return nil, fmt.Errorf("migration %s: the store has no migration %04d to follow", c.Name, c.Version)
		}
		own[i].SQL += "\n" + c.SQL
	}
	return own, nil
}
