package sqlstore

import (
	"context"
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

const releaseColumns = `id, service, version, digest, git_commit, created_by, created_at, recipe, bundle, recalled_by, recall_reason, recalled_at`

// insertReleaseColumns are the columns a new release is written with: it is not recalled.
const insertReleaseColumns = `id, service, version, digest, git_commit, created_by, created_at, recipe, bundle`

// CreateRelease records r, giving it an ID ("r-...") and CreatedAt when they are empty.
// ECONFLICT when (service, version) exists already.
func (db *DB) CreateRelease(ctx context.Context, r *strata.Release, e *strata.Event) error {
	if r.Service == "" || r.Version == "" {
		return strata.Errorf(strata.EINVALID, "a release needs a service and a version")
	}
	rel := *r
	if rel.ID == "" {
		rel.ID = sqlrow.NewID("r-")
	}
	rel.CreatedAt = db.orNow(rel.CreatedAt)
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, `INSERT INTO releases (`+insertReleaseColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			rel.ID, rel.Service, rel.Version, rel.Digest, rel.Commit, rel.CreatedBy, sqlrow.Nanos(rel.CreatedAt), rel.Recipe, rel.Bundle)
		if err != nil {
			return err
		}
		if n == 0 {
			// The insert waited for a concurrent creator to commit: its release is visible now.
			var id string
			err := tx.QueryRow(ctx, `SELECT id FROM releases WHERE service = ? AND version = ?`, r.Service, r.Version).Scan(&id)
			if noRows(err) {
				return strata.Errorf(strata.ECONFLICT, "release %s exists already", rel.ID)
			}
			if err != nil {
				return err
			}
			return strata.Errorf(strata.ECONFLICT, "release %s@%s exists already (%s)", r.Service, r.Version, id)
		}
		return tx.audit(ctx, e, rel.ID, rel.Service, "")
	})
	if err != nil {
		return sqlrow.Wrap(err, "create release %s@%s", r.Service, r.Version)
	}
	*r = rel
	return nil
}

// Release returns the release of service at version; ENOTFOUND when there is none.
func (db *DB) Release(ctx context.Context, service, version string) (*strata.Release, error) {
	r, err := one(ctx, db, `SELECT `+releaseColumns+` FROM releases WHERE service = ? AND version = ?`,
		[]any{service, version}, scanRelease)
	if noRows(err) {
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
	q := `SELECT ` + releaseColumns + ` FROM releases` + c.clause() + ` ORDER BY created_at DESC, ` + db.d.Order + ` DESC`
	return list(ctx, db, "list releases", q, c.args, scanRelease)
}

func scanRelease(s scanner) (*strata.Release, error) {
	var r strata.Release
	var at, recalledAt int64
	var by, reason string
	if err := s.Scan(&r.ID, &r.Service, &r.Version, &r.Digest, &r.Commit, &r.CreatedBy, &at, &r.Recipe, &r.Bundle, &by, &reason, &recalledAt); err != nil {
		return nil, err
	}
	r.CreatedAt = sqlrow.FromNanos(at)
	if by != "" {
		r.Recalled = &strata.Recall{By: by, Reason: reason, At: sqlrow.FromNanos(recalledAt)}
	}
	return &r, nil
}

// SetRecall marks service@version bad (r != nil, r.At set to the clock when zero) or lifts
// its recall (r == nil). ENOTFOUND when there is no such release or, lifting, it is not
// recalled; ECONFLICT, naming who recalled it, when it is recalled already; EINVALID when r
// has no By or Reason.
func (db *DB) SetRecall(ctx context.Context, service, version string, r *strata.Recall, e *strata.Event) error {
	var n strata.Recall
	if r != nil {
		if r.By == "" || r.Reason == "" {
			return strata.Errorf(strata.EINVALID, "recall %s@%s: a recall needs who and why", service, version)
		}
		n = *r
		n.At = db.orNow(n.At)
	}
	op := "recall"
	if r == nil {
		op = "unrecall"
	}
	// Compare and set: of two who recall a release at once, one does and the other is told.
	cond := `recalled_by = ''`
	if r == nil {
		cond = `recalled_by <> ''`
	}
	err := db.write(ctx, func(tx *txn) error {
		rows, err := tx.Exec(ctx, `UPDATE releases SET recalled_by = ?, recall_reason = ?, recalled_at = ? WHERE service = ? AND version = ? AND `+cond,
			n.By, n.Reason, sqlrow.Nanos(n.At), service, version)
		if err != nil {
			return err
		}
		var id, by, reason string
		err = tx.QueryRow(ctx, `SELECT id, recalled_by, recall_reason FROM releases WHERE service = ? AND version = ?`, service, version).Scan(&id, &by, &reason)
		switch {
		case noRows(err):
			return strata.Errorf(strata.ENOTFOUND, "no release %s@%s", service, version)
		case err != nil:
			return err
		case rows == 0 && r != nil:
			return strata.Errorf(strata.ECONFLICT, "%s@%s is recalled already, by %s: %s", service, version, by, reason)
		case rows == 0:
			return strata.Errorf(strata.ENOTFOUND, "%s@%s is not recalled", service, version)
		}
		return tx.audit(ctx, e, id, service, "")
	})
	if err != nil {
		return sqlrow.Wrap(err, "%s %s@%s", op, service, version)
	}
	if r != nil {
		*r = n
	}
	return nil
}
