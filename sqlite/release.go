package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

const releaseColumns = `id, service, version, digest, git_commit, created_by, created_at, recipe, bundle`

// CreateRelease records r, giving it an ID ("r-...") and CreatedAt when they are empty.
// ECONFLICT when (service, version) exists already.
func (db *DB) CreateRelease(ctx context.Context, r *strata.Release, e *strata.Event) error {
	if r.Service == "" || r.Version == "" {
		return strata.Errorf(strata.EINVALID, "a release needs a service and a version")
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var id string
		err := db.queryRow(ctx, tx, `SELECT id FROM releases WHERE service = ? AND version = ?`, r.Service, r.Version).Scan(&id)
		if err == nil {
			return strata.Errorf(strata.ECONFLICT, "release %s@%s exists already (%s)", r.Service, r.Version, id)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rel := *r
		if rel.ID == "" {
			rel.ID = sqlrow.NewID("r-")
		}
		rel.CreatedAt = db.orNow(rel.CreatedAt)
		_, err = db.exec(ctx, tx, `INSERT INTO releases (`+releaseColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rel.ID, rel.Service, rel.Version, rel.Digest, rel.Commit, rel.CreatedBy, sqlrow.Nanos(rel.CreatedAt), rel.Recipe, rel.Bundle)
		if isUnique(err) {
			return strata.Errorf(strata.ECONFLICT, "release %s@%s exists already", r.Service, r.Version)
		}
		if err != nil {
			return err
		}
		if err := db.audit(ctx, tx, e, rel.ID, rel.Service, ""); err != nil {
			return err
		}
		*r = rel
		return nil
	})
	return sqlrow.Wrap(err, "create release %s@%s", r.Service, r.Version)
}

// Release returns the release of service at version; ENOTFOUND when there is none.
func (db *DB) Release(ctx context.Context, service, version string) (*strata.Release, error) {
	row := db.read.QueryRowContext(ctx, `SELECT `+releaseColumns+` FROM releases WHERE service = ? AND version = ?`, service, version)
	r, err := scanRelease(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no release %s@%s", service, version)
	}
	if err != nil {
		return nil, fmt.Errorf("get release %s@%s: %w", service, version, err)
	}
	return r, nil
}

// Releases returns a service's releases, newest first ("" for every service).
func (db *DB) Releases(ctx context.Context, service string) ([]*strata.Release, error) {
	var c conds
	c.equal("service", service)
	q := `SELECT ` + releaseColumns + ` FROM releases` + c.clause() + ` ORDER BY created_at DESC, rowid DESC`
	return list(ctx, db, "list releases", q, c.args, scanRelease)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanRelease(s scanner) (*strata.Release, error) {
	var r strata.Release
	var at int64
	if err := s.Scan(&r.ID, &r.Service, &r.Version, &r.Digest, &r.Commit, &r.CreatedBy, &at, &r.Recipe, &r.Bundle); err != nil {
		return nil, err
	}
	r.CreatedAt = sqlrow.FromNanos(at)
	return &r, nil
}
