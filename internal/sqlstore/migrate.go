package sqlstore

import (
	"embed"
	"io/fs"
	"slices"

	"github.com/strata-dev/strata/internal/sqlrow"
)

//go:embed migrations/*.sql
var shared embed.FS

// Migrations returns a store's migrations: those every database reads alike (this
// package's migrations/, written once in types both read the same: text, bigint, integer)
// and the store's own SQL files of dir in fsys (what its database writes its own way: a
// bigserial, a rowid). Where both have a number, the store's own statements come first and
// the shared ones follow, in one transaction; a number only one of them has is that one.
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
		if i, ok := byVersion[c.Version]; ok {
			own[i].SQL += "\n" + c.SQL
			continue
		}
		own = append(own, c)
	}
	slices.SortFunc(own, func(a, b sqlrow.Migration) int { return a.Version - b.Version })
	return own, nil
}
