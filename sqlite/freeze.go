package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// SetFreeze freezes env (f != nil; f.Environment is set to env and f.At to the clock when
// zero; freezing a frozen environment replaces its reason) or lifts its freeze (f == nil,
// ENOTFOUND when it was not frozen).
func (db *DB) SetFreeze(ctx context.Context, env string, f *strata.Freeze, e *strata.Event) error {
	if env == "" {
		return strata.Errorf(strata.EINVALID, "freeze: no environment named")
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if f == nil {
			res, err := db.exec(ctx, tx, `DELETE FROM freezes WHERE environment = ?`, env)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				if err != nil {
					return err
				}
				return strata.Errorf(strata.ENOTFOUND, "%s is not frozen", env)
			}
			return db.audit(ctx, tx, e, env, "", env)
		}
		n := *f
		n.Environment = env
		n.At = db.orNow(n.At)
		_, err := db.exec(ctx, tx, `INSERT INTO freezes (environment, reason, actor, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (environment) DO UPDATE SET reason = excluded.reason, actor = excluded.actor, at = excluded.at`,
			n.Environment, n.Reason, n.Actor, sqlrow.Nanos(n.At))
		if err != nil {
			return err
		}
		if err := db.audit(ctx, tx, e, env, "", env); err != nil {
			return err
		}
		*f = n
		return nil
	})
	return sqlrow.Wrap(err, "freeze %s", env)
}

// Freezes returns every frozen environment, by name.
func (db *DB) Freezes(ctx context.Context) ([]*strata.Freeze, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT environment, reason, actor, at FROM freezes ORDER BY environment`)
	if err != nil {
		return nil, fmt.Errorf("list freezes: %w", err)
	}
	defer rows.Close()
	var out []*strata.Freeze
	for rows.Next() {
		var f strata.Freeze
		var at int64
		if err := rows.Scan(&f.Environment, &f.Reason, &f.Actor, &at); err != nil {
			return nil, fmt.Errorf("list freezes: %w", err)
		}
		f.At = sqlrow.FromNanos(at)
		out = append(out, &f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list freezes: %w", err)
	}
	return out, nil
}
