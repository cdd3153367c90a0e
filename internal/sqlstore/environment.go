package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// CreateEnvironment records a short-lived environment, setting CreatedAt to the clock when
// zero. ECONFLICT when one of that name exists already; EINVALID when it has no name or no
// Like.
func (db *DB) CreateEnvironment(ctx context.Context, env *strata.EphemeralEnv, e *strata.Event) error {
	if env == nil || env.Name == "" || env.Like == "" {
		return strata.Errorf(strata.EINVALID, "create environment: a short-lived environment needs a name and an environment it is like")
	}
	n := *env
	n.CreatedAt = db.orNow(n.CreatedAt)
	if !n.Expires.IsZero() {
		n.Expires = sqlrow.FromNanos(n.Expires.UnixNano())
	}
	labels, err := sqlrow.ToJSON(n.Labels)
	if err != nil {
		return fmt.Errorf("create environment %s: %w", n.Name, err)
	}
	err = db.write(ctx, func(tx *txn) error {
		rows, err := tx.Exec(ctx, `INSERT INTO environments (name, like_env, labels, expires, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			n.Name, n.Like, labels, sqlrow.Nanos(n.Expires), n.CreatedBy, sqlrow.Nanos(n.CreatedAt))
		if err != nil {
			return err
		}
		if rows == 0 {
			return strata.Errorf(strata.ECONFLICT, "environment %q exists already", n.Name)
		}
		return tx.audit(ctx, e, n.Name, "", n.Name)
	})
	if err != nil {
		return sqlrow.Wrap(err, "create environment %s", n.Name)
	}
	*env = n
	return nil
}

// DeleteEnvironment forgets a short-lived environment. ENOTFOUND when there is none.
func (db *DB) DeleteEnvironment(ctx context.Context, name string, e *strata.Event) error {
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, `DELETE FROM environments WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n == 0 {
			return strata.Errorf(strata.ENOTFOUND, "there is no short-lived environment %q", name)
		}
		return tx.audit(ctx, e, name, "", name)
	})
	return sqlrow.Wrap(err, "delete environment %s", name)
}

// Environments returns every short-lived environment, oldest first.
func (db *DB) Environments(ctx context.Context) ([]*strata.EphemeralEnv, error) {
	return list(ctx, db, "list environments", `SELECT name, like_env, labels, expires, created_by, created_at
		FROM environments ORDER BY created_at, `+db.d.Order, nil, func(s scanner) (*strata.EphemeralEnv, error) {
		var env strata.EphemeralEnv
		var labels *string
		var expires, created int64
		if err := s.Scan(&env.Name, &env.Like, &labels, &expires, &env.CreatedBy, &created); err != nil {
			return nil, err
		}
		if err := fromJSON(labels, &env.Labels); err != nil {
			return nil, fmt.Errorf("labels of %s: %w", env.Name, err)
		}
		env.Expires, env.CreatedAt = sqlrow.FromNanos(expires), sqlrow.FromNanos(created)
		return &env, nil
	})
}

// fromJSON decodes a nullable JSON text column into v; NULL leaves v as it is.
func fromJSON(s *string, v any) error {
	if s == nil || *s == "" {
		return nil
	}
	return json.Unmarshal([]byte(*s), v)
}
