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
	set, err := sqlrow.ToJSON(n.Set)
	if err != nil {
		return fmt.Errorf("create environment %s: %w", n.Name, err)
	}
	inherit := 0
	if n.InheritPolicy {
		inherit = 1
	}
	err = db.write(ctx, func(tx *txn) error {
		rows, err := tx.Exec(ctx, `INSERT INTO environments (name, like_env, labels, expires, created_by, created_at, config, inherit_policy)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			n.Name, n.Like, labels, sqlrow.Nanos(n.Expires), n.CreatedBy, sqlrow.Nanos(n.CreatedAt), set, inherit)
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
	return list(ctx, db, "list environments", `SELECT name, like_env, labels, expires, created_by, created_at, config, inherit_policy
		FROM environments ORDER BY created_at, `+db.d.Order, nil, func(s scanner) (*strata.EphemeralEnv, error) {
		var env strata.EphemeralEnv
		var labels, set *string
		var expires, created, inherit int64
		if err := s.Scan(&env.Name, &env.Like, &labels, &expires, &env.CreatedBy, &created, &set, &inherit); err != nil {
			return nil, err
		}
		if err := fromJSON(labels, &env.Labels); err != nil {
			return nil, fmt.Errorf("labels of %s: %w", env.Name, err)
		}
		if err := fromJSON(set, &env.Set); err != nil {
			return nil, fmt.Errorf("config of %s: %w", env.Name, err)
		}
		env.InheritPolicy = inherit != 0
		env.Expires, env.CreatedAt = sqlrow.FromNanos(expires), sqlrow.FromNanos(created)
		return &env, nil
	})
}

// RetireEnvironment records r as gone (At set to the clock when zero), replacing an earlier
// record of the name. With r.How HowDestroy it forgets the short-lived environment r.Name in
// the same transaction (ENOTFOUND when there is none). EINVALID when r has no name or an
// unknown How.
func (db *DB) RetireEnvironment(ctx context.Context, r *strata.RetiredEnv, e *strata.Event) error {
	if r == nil || r.Name == "" || (r.How != strata.HowRetire && r.How != strata.HowDestroy) {
		return strata.Errorf(strata.EINVALID, "retire environment: a retired environment needs a name and how it went (retire or destroy)")
	}
	n := *r
	n.At = db.orNow(n.At)
	if n.Services == nil {
		n.Services = []string{}
	}
	b, err := json.Marshal(n.Services)
	if err != nil {
		return fmt.Errorf("retire environment %s: %w", n.Name, err)
	}
	services := string(b)
	err = db.write(ctx, func(tx *txn) error {
		if n.How == strata.HowDestroy {
			rows, err := tx.Exec(ctx, `DELETE FROM environments WHERE name = ?`, n.Name)
			if err != nil {
				return err
			}
			if rows == 0 {
				return strata.Errorf(strata.ENOTFOUND, "there is no short-lived environment %q", n.Name)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO retired_environments (name, how, services, actor, at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET how = excluded.how, services = excluded.services, actor = excluded.actor, at = excluded.at`,
			n.Name, n.How, services, n.By, sqlrow.Nanos(n.At))
		if err != nil {
			return err
		}
		return tx.audit(ctx, e, n.Name, "", n.Name)
	})
	if err != nil {
		return sqlrow.Wrap(err, "retire environment %s", n.Name)
	}
	*r = n
	return nil
}

// RetiredEnvironments returns every environment recorded as gone, by name.
func (db *DB) RetiredEnvironments(ctx context.Context) ([]*strata.RetiredEnv, error) {
	return list(ctx, db, "list retired environments", `SELECT name, how, services, actor, at FROM retired_environments ORDER BY name`, nil,
		func(s scanner) (*strata.RetiredEnv, error) {
			var r strata.RetiredEnv
			var services *string
			var at int64
			if err := s.Scan(&r.Name, &r.How, &services, &r.By, &at); err != nil {
				return nil, err
			}
			if err := fromJSON(services, &r.Services); err != nil {
				return nil, fmt.Errorf("services of %s: %w", r.Name, err)
			}
			if r.Services == nil {
				r.Services = []string{}
			}
			r.At = sqlrow.FromNanos(at)
			return &r, nil
		})
}

// fromJSON decodes a nullable JSON text column into v; NULL leaves v as it is.
func fromJSON(s *string, v any) error {
	if s == nil || *s == "" {
		return nil
	}
	return json.Unmarshal([]byte(*s), v)
}
