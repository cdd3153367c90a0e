package sqlite

import (
	"context"
	"database/sql"
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
	err = db.tx(ctx, func(tx *sql.Tx) error {
		_, err := db.exec(ctx, tx, `INSERT INTO environments (name, like_env, labels, expires, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, n.Name, n.Like, labels, sqlrow.Nanos(n.Expires), n.CreatedBy, sqlrow.Nanos(n.CreatedAt))
		if isUnique(err) {
			return strata.Errorf(strata.ECONFLICT, "environment %q exists already", n.Name)
		}
		if err != nil {
			return err
		}
		return db.audit(ctx, tx, e, n.Name, "", n.Name)
	})
	if err != nil {
		return sqlrow.Wrap(err, "create environment %s", n.Name)
	}
	*env = n
	return nil
}

// DeleteEnvironment forgets a short-lived environment. ENOTFOUND when there is none.
func (db *DB) DeleteEnvironment(ctx context.Context, name string, e *strata.Event) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := db.exec(ctx, tx, `DELETE FROM environments WHERE name = ?`, name)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return strata.Errorf(strata.ENOTFOUND, "there is no short-lived environment %q", name)
		}
		return db.audit(ctx, tx, e, name, "", name)
	})
	return sqlrow.Wrap(err, "delete environment %s", name)
}

// Environments returns every short-lived environment, oldest first.
func (db *DB) Environments(ctx context.Context) ([]*strata.EphemeralEnv, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, like_env, labels, expires, created_by, created_at
		FROM environments ORDER BY created_at, rowid`)
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	defer rows.Close()
	var out []*strata.EphemeralEnv
	for rows.Next() {
		var env strata.EphemeralEnv
		var labels *string
		var expires, created int64
		if err := rows.Scan(&env.Name, &env.Like, &labels, &expires, &env.CreatedBy, &created); err != nil {
			return nil, fmt.Errorf("list environments: %w", err)
		}
		if labels != nil && *labels != "" {
			if err := json.Unmarshal([]byte(*labels), &env.Labels); err != nil {
				return nil, fmt.Errorf("list environments: labels of %s: %w", env.Name, err)
			}
		}
		env.Expires, env.CreatedAt = sqlrow.FromNanos(expires), sqlrow.FromNanos(created)
		out = append(out, &env)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	return out, nil
}
