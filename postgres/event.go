package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// audit appends e, when not nil, inside tx: it fills Seq, At, Prev and Hash, and Subject,
// Service and Environment from the record the change is about when the caller left them
// empty. Callers run it last in the transaction of the change it records. It first takes the
// store's audit lock, held until that transaction ends, so that concurrent appenders
// number their events one after another and chain each to the last committed one.
func (db *DB) audit(ctx context.Context, tx pgx.Tx, e *strata.Event, subject, service, env string) error {
	if e == nil {
		return nil
	}
	if e.Subject == "" {
		e.Subject = subject
	}
	if e.Service == "" {
		e.Service = service
	}
	if e.Environment == "" {
		e.Environment = env
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.auditKey); err != nil {
		return fmt.Errorf("append event: wait for the audit log: %w", err)
	}
	var seq int64
	var prev string
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("append event: %w", err)
	}
	e.Seq = seq + 1
	e.At = db.clock()
	e.Prev = prev
	e.Hash = e.ComputeHash(prev)
	var detail []byte
	if len(e.Detail) > 0 {
		detail = []byte(e.Detail)
	}
	_, err = tx.Exec(ctx, `INSERT INTO events (seq, at, actor, action, service, environment, subject, detail, prev, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.Seq, sqlrow.Nanos(e.At), e.Actor, e.Action, e.Service, e.Environment, e.Subject, detail, e.Prev, e.Hash)
	if err != nil {
		return fmt.Errorf("append event %s: %w", e.Action, err)
	}
	return nil
}

// AppendEvent records an event that goes with no other change (e.g. a denied request).
// EINVALID when e is nil or has no action.
func (db *DB) AppendEvent(ctx context.Context, e *strata.Event) error {
	if e == nil || e.Action == "" {
		return strata.Errorf(strata.EINVALID, "an audit event needs an action")
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		return db.audit(ctx, tx, e, "", "", "")
	})
	return sqlrow.Wrap(err, "append event %s", e.Action)
}

// Events returns audit events f selects, oldest first; with f.Limit, the newest Limit of
// them, still oldest first.
func (db *DB) Events(ctx context.Context, f strata.EventFilter) ([]*strata.Event, error) {
	var c conds
	c.equal("service", f.Service)
	c.equal("environment", f.Environment)
	c.equal("actor", f.Actor)
	c.equal("action", f.Action)
	q := `SELECT seq, at, actor, action, service, environment, subject, detail, prev, hash FROM events` + c.clause()
	if f.Limit > 0 {
		q = `SELECT * FROM (` + q + ` ORDER BY seq DESC` + c.limit(f.Limit) + `) AS newest ORDER BY seq`
	} else {
		q += ` ORDER BY seq`
	}
	return list(ctx, db, "list events", q, c.args, scanEvent)
}

func scanEvent(s scanner) (*strata.Event, error) {
	var e strata.Event
	var at int64
	var detail []byte
	if err := s.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Service, &e.Environment, &e.Subject, &detail, &e.Prev, &e.Hash); err != nil {
		return nil, err
	}
	e.At = sqlrow.FromNanos(at)
	e.Detail = sqlrow.RawJSON(detail)
	return &e, nil
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// list runs q and scans every row it returns with scan; op names the listing in errors
// ("list deployments").
func list[T any](ctx context.Context, db *DB, op, q string, args []any, scan func(scanner) (*T, error)) ([]*T, error) {
	var out []*T
	err := db.query(ctx, q, args, func(rows pgx.Rows) error {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// one runs q for one row and scans it with scan; pgx.ErrNoRows when there is none.
func one[T any](ctx context.Context, db *DB, q string, args []any, scan func(scanner) (*T, error)) (*T, error) {
	var v *T
	err := db.queryRow(ctx, q, args, func(row pgx.Row) error {
		var err error
		v, err = scan(row)
		return err
	})
	return v, err
}
