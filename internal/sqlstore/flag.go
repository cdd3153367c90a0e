package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

const flagColumns = `environment, flag, value, percent, killed, kill_reason, updated_by, updated_at`

// ChangeFlag applies c to the flag's runtime state (made when there is none), moves the
// flags counter and appends e, in one transaction. EINVALID when c names no environment or
// flag.
func (db *DB) ChangeFlag(ctx context.Context, c *strata.FlagChange, e *strata.Event) (*strata.FlagState, error) {
	if c == nil || c.Environment == "" || c.Flag == "" {
		return nil, strata.Errorf(strata.EINVALID, "change flag: name an environment and a flag")
	}
	at := db.orNow(c.At)
	var out *strata.FlagState
	err := db.write(ctx, func(tx *txn) error {
		st, err := db.applyFlag(ctx, tx, c, at)
		if err != nil {
			return err
		}
		out = st
		return tx.audit(ctx, e, c.Flag, "", c.Environment)
	})
	if err != nil {
		return nil, sqlrow.Wrap(err, "change flag %s in %s", c.Flag, c.Environment)
	}
	return out, nil
}

// applyFlag applies c at time at inside tx and returns the state now stored. The counter is
// moved first: on PostgreSQL its row lock then orders concurrent changes, so each reads the
// state the one before it wrote.
func (db *DB) applyFlag(ctx context.Context, tx *txn, c *strata.FlagChange, at time.Time) (*strata.FlagState, error) {
	if _, err := tx.Exec(ctx, `UPDATE flags_version SET n = n + 1 WHERE id = 1`); err != nil {
		return nil, err
	}
	st, err := scanFlagState(tx.QueryRow(ctx, `SELECT `+flagColumns+` FROM flag_states WHERE environment = ? AND flag = ?`+db.d.ForUpdate,
		c.Environment, c.Flag))
	if noRows(err) {
		st, err = &strata.FlagState{Environment: c.Environment, Flag: c.Flag}, nil
	}
	if err != nil {
		return nil, err
	}
	switch {
	case c.ClearValue:
		st.Value = nil
	case c.Value != nil:
		st.Value = c.Value
	}
	if c.Percent != nil {
		p := *c.Percent
		st.Percent = &p
	}
	if c.Killed != nil {
		st.Killed, st.KillReason = *c.Killed, ""
		if *c.Killed {
			st.KillReason = c.Reason
		}
	}
	st.UpdatedBy, st.UpdatedAt = c.Actor, at
	var value *string
	if st.Value != nil {
		s := string(st.Value)
		value = &s
	}
	killed := 0
	if st.Killed {
		killed = 1
	}
	_, err = tx.Exec(ctx, `INSERT INTO flag_states (`+flagColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (environment, flag) DO UPDATE SET value = excluded.value, percent = excluded.percent,
		killed = excluded.killed, kill_reason = excluded.kill_reason, updated_by = excluded.updated_by,
		updated_at = excluded.updated_at`,
		st.Environment, st.Flag, value, st.Percent, killed, st.KillReason, st.UpdatedBy, sqlrow.Nanos(st.UpdatedAt))
	if err != nil {
		return nil, err
	}
	return st, nil
}

// FlagStates returns the runtime states of env's flags ("" for every environment), by
// environment and flag.
func (db *DB) FlagStates(ctx context.Context, env string) ([]*strata.FlagState, error) {
	q, args := `SELECT `+flagColumns+` FROM flag_states ORDER BY environment, flag`, []any(nil)
	if env != "" {
		q, args = `SELECT `+flagColumns+` FROM flag_states WHERE environment = ? ORDER BY flag`, []any{env}
	}
	return list(ctx, db, "list flag states", q, args, scanFlagState)
}

// FlagsVersion returns the counter that every ChangeFlag moves.
func (db *DB) FlagsVersion(ctx context.Context) (int64, error) {
	var n int64
	if err := db.b.Read().QueryRow(ctx, `SELECT n FROM flags_version WHERE id = 1`).Scan(&n); err != nil {
		return 0, sqlrow.Wrap(err, "read flags version")
	}
	return n, nil
}

func scanFlagState(s scanner) (*strata.FlagState, error) {
	var st strata.FlagState
	var value *string
	var percent *int64
	var killed, at int64
	if err := s.Scan(&st.Environment, &st.Flag, &value, &percent, &killed, &st.KillReason, &st.UpdatedBy, &at); err != nil {
		return nil, err
	}
	if value != nil {
		st.Value = json.RawMessage(*value)
	}
	if percent != nil {
		p := int(*percent)
		st.Percent = &p
	}
	st.Killed, st.UpdatedAt = killed != 0, sqlrow.FromNanos(at)
	return &st, nil
}
