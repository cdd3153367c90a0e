package sqlstore

import (
	"context"
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
	if f == nil {
		err := db.write(ctx, func(tx *txn) error {
			n, err := tx.Exec(ctx, `DELETE FROM freezes WHERE environment = ?`, env)
			if err != nil {
				return err
			}
			if n == 0 {
				return strata.Errorf(strata.ENOTFOUND, "%s is not frozen", env)
			}
			return tx.audit(ctx, e, env, "", env)
		})
		return sqlrow.Wrap(err, "unfreeze %s", env)
	}
	n := *f
	n.Environment = env
	n.At = db.orNow(n.At)
	err := db.write(ctx, func(tx *txn) error {
		_, err := tx.Exec(ctx, `INSERT INTO freezes (environment, reason, actor, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (environment) DO UPDATE SET reason = excluded.reason, actor = excluded.actor, at = excluded.at`,
			n.Environment, n.Reason, n.Actor, sqlrow.Nanos(n.At))
		if err != nil {
			return err
		}
		return tx.audit(ctx, e, env, "", env)
	})
	if err != nil {
		return sqlrow.Wrap(err, "freeze %s", env)
	}
	*f = n
	return nil
}

// Freezes returns every frozen environment, by name.
func (db *DB) Freezes(ctx context.Context) ([]*strata.Freeze, error) {
	return list(ctx, db, "list freezes", `SELECT environment, reason, actor, at FROM freezes ORDER BY environment`, nil,
		func(s scanner) (*strata.Freeze, error) {
			var f strata.Freeze
			var at int64
			if err := s.Scan(&f.Environment, &f.Reason, &f.Actor, &at); err != nil {
				return nil, err
			}
			f.At = sqlrow.FromNanos(at)
			return &f, nil
		})
}

// AppendLog stores a chunk of a deployment's (redacted) step output; the store numbers it
// (LogChunk.Seq) and stamps it with its clock when c.At is zero. ENOTFOUND when there is no
// such deployment.
func (db *DB) AppendLog(ctx context.Context, id string, c strata.LogChunk) error {
	at := db.orNow(c.At)
	err := db.write(ctx, func(tx *txn) error {
		_, err := tx.Exec(ctx, `INSERT INTO logs (deployment, attempt, step, at, data) VALUES (?, ?, ?, ?, ?)`,
			id, c.Attempt, c.Step, sqlrow.Nanos(at), c.Data)
		if db.d.IsForeignKey(err) {
			return strata.Errorf(strata.ENOTFOUND, "no deployment %s", id)
		}
		return err
	})
	return sqlrow.Wrap(err, "append log of deployment %s", id)
}

// Logs returns a deployment's chunks with Seq greater than after, in order. A deployment
// with no output (or none) has no chunks.
func (db *DB) Logs(ctx context.Context, id string, after int64) ([]strata.LogChunk, error) {
	var out []strata.LogChunk
	err := each(ctx, db.b.Read(), `SELECT seq, attempt, step, at, data FROM logs WHERE deployment = ? AND seq > ? ORDER BY seq`,
		[]any{id, after}, func(s scanner) error {
			var c strata.LogChunk
			var at int64
			if err := s.Scan(&c.Seq, &c.Attempt, &c.Step, &at, &c.Data); err != nil {
				return err
			}
			c.At = sqlrow.FromNanos(at)
			out = append(out, c)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("logs of deployment %s: %w", id, err)
	}
	return out, nil
}
