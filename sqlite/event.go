package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// audit appends e, when not nil, inside tx: it fills Seq, At, Prev and Hash, and Subject,
// Service and Environment from the record the change is about when the caller left them
// empty. Callers run it in the transaction of the change it records.
func (db *DB) audit(ctx context.Context, tx *sql.Tx, e *strata.Event, subject, service, env string) error {
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
	var detail any
	if len(e.Detail) > 0 {
		detail = []byte(e.Detail)
	}
	// The head this process appended last is trusted without reading it: every writer holds
	// the write lock (BEGIN IMMEDIATE) while it appends, and seq is the primary key, so when
	// another process appended since, the INSERT of the next seq fails and the head is read.
	for known := db.head != nil; ; known = false {
		var seq int64
		var prev string
		if known {
			seq, prev = db.head.seq, db.head.hash
		} else {
			err := db.queryRow(ctx, tx, `SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
			if err != nil && err != sql.ErrNoRows {
				return fmt.Errorf("append event: %w", err)
			}
		}
		e.Seq = seq + 1
		e.At = db.clock()
		e.Prev = prev
		e.Hash = e.ComputeHash(prev)
		_, err := db.exec(ctx, tx, `INSERT INTO events (seq, at, actor, action, service, environment, subject, detail, prev, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, sqlrow.Nanos(e.At), e.Actor, e.Action, e.Service, e.Environment, e.Subject, detail, e.Prev, e.Hash)
		if known && isUnique(err) {
			continue // another process appended: read the head
		}
		if err != nil {
			db.head = nil
			return fmt.Errorf("append event %s: %w", e.Action, err)
		}
		db.head = &eventHead{seq: e.Seq, hash: e.Hash}
		return nil
	}
}

// eventHead is the newest event this process appended, as far as it knows: it is forgotten
// when a transaction that may have appended it is rolled back.
type eventHead struct {
	seq  int64
	hash string
}

// AppendEvent records an event that goes with no other change (e.g. a denied request).
// EINVALID when e is nil or has no action.
func (db *DB) AppendEvent(ctx context.Context, e *strata.Event) error {
	if e == nil || e.Action == "" {
		return strata.Errorf(strata.EINVALID, "an audit event needs an action")
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		return db.audit(ctx, tx, e, "", "", "")
	})
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
	args := c.args
	if f.Limit > 0 {
		q = `SELECT * FROM (` + q + ` ORDER BY seq DESC LIMIT ?) ORDER BY seq`
		args = append(args, f.Limit)
	} else {
		q += ` ORDER BY seq`
	}
	return list(ctx, db, "list events", q, args, scanEvent)
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
