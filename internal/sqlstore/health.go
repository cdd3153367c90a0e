package sqlstore

import (
	"context"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// RecordHealth keeps c as its pair's newest health check unless a newer one is kept, and
// appends e only when c changed its deployment's health (sqlrow.NextHealth). Replicas that
// record one pair at once queue on its row: the first makes it (an empty one, so that the
// others wait on it rather than fail), each locks it (or holds the whole database), reads
// what the one before left, and decides; so one transition is reported changed once.
func (db *DB) RecordHealth(ctx context.Context, c *strata.HealthCheck, e *strata.Event) (bool, error) {
	if err := sqlrow.CheckHealth(c, db.orNow); err != nil {
		return false, err
	}
	var changed bool
	var n strata.HealthCheck
	err := db.write(ctx, func(tx *txn) error {
		changed, n = false, *c // work run again starts from the caller's check
		_, err := tx.Exec(ctx, `INSERT INTO health (service, environment, deployment, health, checked_at, since)
			VALUES (?, ?, '', '', 0, 0) ON CONFLICT (service, environment) DO NOTHING`, n.Service, n.Environment)
		if err != nil {
			return err
		}
		var old strata.HealthCheck
		var checked, since int64
		err = tx.QueryRow(ctx, `SELECT deployment, health, checked_at, since FROM health
			WHERE service = ? AND environment = ?`+db.d.ForUpdate, n.Service, n.Environment).
			Scan(&old.Deployment, &old.Health, &checked, &since)
		if err != nil {
			return err
		}
		old.CheckedAt, old.Since = sqlrow.FromNanos(checked), sqlrow.FromNanos(since)
		write, ch := sqlrow.NextHealth(&old, &n)
		if !write {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE health SET deployment = ?, health = ?, detail = ?, checked_at = ?, since = ?
			WHERE service = ? AND environment = ?`,
			n.Deployment, n.Health, n.Detail, sqlrow.Nanos(n.CheckedAt), sqlrow.Nanos(n.Since), n.Service, n.Environment)
		if err != nil {
			return err
		}
		if ch {
			if err := tx.audit(ctx, e, n.Deployment, n.Service, n.Environment); err != nil {
				return err
			}
		}
		changed = ch
		return nil
	})
	if err != nil {
		return false, sqlrow.Wrap(err, "record health of %s in %s", c.Service, c.Environment)
	}
	c.CheckedAt, c.Since = n.CheckedAt, n.Since
	return changed, nil
}

// HealthChecks returns the newest health check of every pair, by environment then service
// (compared byte by byte, whatever the database's collation).
func (db *DB) HealthChecks(ctx context.Context) ([]*strata.HealthCheck, error) {
	return list(ctx, db, "list health checks", `SELECT service, environment, deployment, health, detail, checked_at, since
		FROM health WHERE deployment <> '' ORDER BY environment`+db.d.Bytewise+`, service`+db.d.Bytewise, nil,
		func(s scanner) (*strata.HealthCheck, error) {
			var c strata.HealthCheck
			var checked, since int64
			if err := s.Scan(&c.Service, &c.Environment, &c.Deployment, &c.Health, &c.Detail, &checked, &since); err != nil {
				return nil, err
			}
			c.CheckedAt, c.Since = sqlrow.FromNanos(checked), sqlrow.FromNanos(since)
			return &c, nil
		})
}
