package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// RecordHealth keeps c as its pair's newest health check unless a newer one is kept, and
// appends e only when c changed its deployment's health (sqlrow.NextHealth). The write lock
// (BEGIN IMMEDIATE) orders concurrent writers, so each reads the row the last one left.
func (db *DB) RecordHealth(ctx context.Context, c *strata.HealthCheck, e *strata.Event) (bool, error) {
	if err := sqlrow.CheckHealth(c, db.orNow); err != nil {
		return false, err
	}
	var changed bool
	n := *c
	err := db.tx(ctx, func(tx *sql.Tx) error {
		changed = false // a batch that failed runs its jobs again alone
		var old strata.HealthCheck
		var checked, since int64
		err := db.queryRow(ctx, tx, `SELECT deployment, health, checked_at, since FROM health WHERE service = ? AND environment = ?`,
			n.Service, n.Environment).Scan(&old.Deployment, &old.Health, &checked, &since)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			old.CheckedAt, old.Since = sqlrow.FromNanos(checked), sqlrow.FromNanos(since)
		}
		write, ch := sqlrow.NextHealth(&old, &n)
		if !write {
			return nil
		}
		_, err = db.exec(ctx, tx, `INSERT INTO health (service, environment, deployment, health, detail, checked_at, since)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (service, environment) DO UPDATE SET deployment = excluded.deployment, health = excluded.health,
				detail = excluded.detail, checked_at = excluded.checked_at, since = excluded.since`,
			n.Service, n.Environment, n.Deployment, n.Health, n.Detail, sqlrow.Nanos(n.CheckedAt), sqlrow.Nanos(n.Since))
		if err != nil {
			return err
		}
		if ch {
			if err := db.audit(ctx, tx, e, n.Deployment, n.Service, n.Environment); err != nil {
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

// HealthChecks returns the newest health check of every pair, by environment then service.
func (db *DB) HealthChecks(ctx context.Context) ([]*strata.HealthCheck, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT service, environment, deployment, health, detail, checked_at, since
		FROM health ORDER BY environment, service`)
	if err != nil {
		return nil, fmt.Errorf("list health checks: %w", err)
	}
	defer rows.Close()
	var out []*strata.HealthCheck
	for rows.Next() {
		var c strata.HealthCheck
		var checked, since int64
		if err := rows.Scan(&c.Service, &c.Environment, &c.Deployment, &c.Health, &c.Detail, &checked, &since); err != nil {
			return nil, fmt.Errorf("list health checks: %w", err)
		}
		c.CheckedAt, c.Since = sqlrow.FromNanos(checked), sqlrow.FromNanos(since)
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list health checks: %w", err)
	}
	return out, nil
}
