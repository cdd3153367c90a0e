package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

const tokenColumns = `name, role, envs, hash, created_by, created_at, revoked_at`

// CreateToken records t (CreatedAt set to the clock when zero). EINVALID when it has no
// valid name, role or hash; ECONFLICT when a valid token has that name.
func (db *DB) CreateToken(ctx context.Context, t *strata.Token, e *strata.Event) error {
	if t == nil || !strata.ValidTokenName(t.Name) || !strata.ValidRole(t.Role) || len(t.Hash) != 64 {
		return strata.Errorf(strata.EINVALID, "create token: a token needs a valid name, a role and the hash of its secret")
	}
	n := *t
	n.CreatedAt = db.orNow(n.CreatedAt)
	n.RevokedAt = time.Time{}
	var envs any
	if len(n.Envs) > 0 {
		b, err := json.Marshal(n.Envs)
		if err != nil {
			return fmt.Errorf("create token %s: %w", n.Name, err)
		}
		envs = string(b)
	}
	err := db.write(ctx, func(tx *txn) error {
		rows, err := tx.Exec(ctx, `INSERT INTO tokens (name, role, envs, hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, n.Name, n.Role, envs, n.Hash, n.CreatedBy, sqlrow.Nanos(n.CreatedAt))
		if err != nil {
			return err
		}
		if rows == 1 {
			return tx.audit(ctx, e, n.Name, "", "")
		}
		var valid int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE name = ? AND revoked_at = 0`, n.Name).Scan(&valid); err != nil {
			return err
		}
		if valid > 0 {
			return strata.Errorf(strata.ECONFLICT, "a token named %q exists already; revoke it first or pick another name", n.Name)
		}
		// The hash is unique too: a secret made twice is a broken random source, not a user error.
		return fmt.Errorf("a token with this secret exists already")
	})
	if err != nil {
		return sqlrow.Wrap(err, "create token %s", n.Name)
	}
	*t = n
	return nil
}

// TokenByHash returns the valid token whose secret hashes to hash. ENOTFOUND when there is
// none (a revoked token is not found).
func (db *DB) TokenByHash(ctx context.Context, hash string) (*strata.Token, error) {
	t, err := one(ctx, db, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ? AND revoked_at = 0`, []any{hash}, scanToken)
	if noRows(err) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no valid token has that secret")
	}
	if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	return t, nil
}

// Tokens returns every token, revoked ones included, by name (a name's older tokens first).
func (db *DB) Tokens(ctx context.Context) ([]*strata.Token, error) {
	return list(ctx, db, "list tokens", `SELECT `+tokenColumns+` FROM tokens ORDER BY name, created_at, id`, nil, scanToken)
}

// RevokeToken revokes the valid token called name at once: TokenByHash no longer finds it.
// ENOTFOUND when no valid token has that name.
func (db *DB) RevokeToken(ctx context.Context, name string, e *strata.Event) error {
	revoked := sqlrow.Nanos(db.clock())
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at = 0`, revoked, name)
		if err != nil {
			return err
		}
		if n == 0 {
			return strata.Errorf(strata.ENOTFOUND, "no valid token is named %q", name)
		}
		return tx.audit(ctx, e, name, "", "")
	})
	return sqlrow.Wrap(err, "revoke token %s", name)
}

// scanToken reads one row of tokenColumns.
func scanToken(s scanner) (*strata.Token, error) {
	var t strata.Token
	var envs *string
	var created, revoked int64
	if err := s.Scan(&t.Name, &t.Role, &envs, &t.Hash, &t.CreatedBy, &created, &revoked); err != nil {
		return nil, err
	}
	if err := fromJSON(envs, &t.Envs); err != nil {
		return nil, fmt.Errorf("environments of token %s: %w", t.Name, err)
	}
	t.CreatedAt, t.RevokedAt = sqlrow.FromNanos(created), sqlrow.FromNanos(revoked)
	return &t, nil
}
