package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// audit appends e, when not nil, inside tx: it fills Seq, At, Prev and Hash, and Subject,
// Service and Environment from the record the change is about when the caller left them
// empty. Callers run it in the transaction of the change it records.
func (db *DB) audit(ctx context.Context, tx *sql.Tx, e *strata.Event, subject, service, env string) error {
	return db.auditAll(ctx, tx, audited{e, subject, service, env})
}

// audited is an event to append and the record it is about.
type audited struct {
	e                     *strata.Event
	subject, service, env string
}

// auditAll appends the events of as (nil ones skipped) in order, with one INSERT: a worker
// that ends one deployment and starts the next appends two.
func (db *DB) auditAll(ctx context.Context, tx *sql.Tx, as ...audited) error {
	var evs []*strata.Event
	for _, a := range as {
		e := a.e
		if e == nil {
			continue
		}
		if e.Subject == "" {
			e.Subject = a.subject
		}
		if e.Service == "" {
			e.Service = a.service
		}
		if e.Environment == "" {
			e.Environment = a.env
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		return nil
	}
	q := `INSERT INTO events (seq, at, actor, action, service, environment, subject, detail, prev, hash) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(evs)), ", ")
	args := make([]any, 0, 10*len(evs))
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
		args = args[:0]
		at := db.clock()
		for _, e := range evs {
			seq++
			e.Seq, e.At, e.Prev = seq, at, prev
			e.Hash = e.ComputeHash(prev)
			prev = e.Hash
			var detail any
			if len(e.Detail) > 0 {
				detail = []byte(e.Detail)
			}
			args = append(args, e.Seq, sqlrow.Nanos(e.At), e.Actor, e.Action, e.Service, e.Environment, e.Subject, detail, e.Prev, e.Hash)
		}
		_, err := db.exec(ctx, tx, q, args...)
		if known && isUnique(err) {
			continue // another process appended: read the head
		}
		last := evs[len(evs)-1]
		if err != nil {
			db.head = nil
			return fmt.Errorf("append event %s: %w", last.Action, err)
		}
		db.head = &eventHead{seq: last.Seq, hash: last.Hash}
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
