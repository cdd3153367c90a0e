package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

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
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var valid int
		err := db.queryRow(ctx, tx, `SELECT count(*) FROM tokens WHERE name = ? AND revoked_at = 0`, n.Name).Scan(&valid)
		if err != nil {
			return err
		}
		if valid > 0 {
			return strata.Errorf(strata.ECONFLICT, "a token named %q exists already; revoke it first or pick another name", n.Name)
		}
		_, err = db.exec(ctx, tx, `INSERT INTO tokens (name, role, envs, hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			n.Name, n.Role, envs, n.Hash, n.CreatedBy, sqlrow.Nanos(n.CreatedAt))
		if isUnique(err) {
			// The hash is unique too: a secret made twice is a broken random source, not a user error.
			return fmt.Errorf("a token with this secret exists already: %w", err)
		}
		if err != nil {
			return err
		}
		return db.audit(ctx, tx, e, n.Name, "", "")
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
	row := db.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ? AND revoked_at = 0`, hash)
	t, err := scanToken(row)
	if err == sql.ErrNoRows {
		return nil, strata.Errorf(strata.ENOTFOUND, "no valid token has that secret")
	}
	if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	return t, nil
}

// Tokens returns every token, revoked ones included, by name (a name's older tokens first).
func (db *DB) Tokens(ctx context.Context) ([]*strata.Token, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY name, created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []*strata.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes the valid token called name at once: TokenByHash no longer finds it.
// ENOTFOUND when no valid token has that name.
func (db *DB) RevokeToken(ctx context.Context, name string, e *strata.Event) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := db.exec(ctx, tx, `UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at = 0`, sqlrow.Nanos(db.clock()), name)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return strata.Errorf(strata.ENOTFOUND, "no valid token is named %q", name)
		}
		return db.audit(ctx, tx, e, name, "", "")
	})
	return sqlrow.Wrap(err, "revoke token %s", name)
}

const tokenColumns = `name, role, envs, hash, created_by, created_at, revoked_at`

// scanToken reads one row of tokenColumns.
func scanToken(row interface{ Scan(...any) error }) (*strata.Token, error) {
	var t strata.Token
	var envs *string
	var created, revoked int64
	if err := row.Scan(&t.Name, &t.Role, &envs, &t.Hash, &t.CreatedBy, &created, &revoked); err != nil {
		return nil, err
	}
	if envs != nil && *envs != "" {
		if err := json.Unmarshal([]byte(*envs), &t.Envs); err != nil {
			return nil, fmt.Errorf("environments of token %s: %w", t.Name, err)
		}
	}
	t.CreatedAt, t.RevokedAt = sqlrow.FromNanos(created), sqlrow.FromNanos(revoked)
	return &t, nil
}
