package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// audited is an event to append and the record it is about.
type audited struct {
	e                     *strata.Event
	subject, service, env string
}

// errStaleHead says the head this process trusted was no longer the log's: the transaction
// ended, and the writer runs again, reading the head.
var errStaleHead = errors.New("another process appended to the audit log")

// eventHead is the newest event of the audit log as a transaction or this process knows it.
type eventHead struct {
	seq  int64
	hash string
}

// audit appends e, when not nil, inside tx: it fills Seq, At, Prev and Hash, and Subject,
// Service and Environment from the record the change is about when the caller left them
// empty. Callers run it in the transaction of the change it records.
func (tx *txn) audit(ctx context.Context, e *strata.Event, subject, service, env string) error {
	return tx.auditAll(ctx, audited{e, subject, service, env})
}

// auditAll appends the events of as (nil ones skipped) in order, with one INSERT: a worker
// that ends one deployment and starts the next appends two.
func (tx *txn) auditAll(ctx context.Context, as ...audited) error {
	evs := events(as)
	if len(evs) == 0 {
		return nil
	}
	db := tx.db
	if db.d.AuditLock != "" && !tx.locked {
		// Held until the transaction ends: appenders in other processes wait here, and
		// then read the head this one leaves.
		if _, err := tx.Exec(ctx, db.d.AuditLock); err != nil {
			return fmt.Errorf("append event: wait for the audit log: %w", err)
		}
		tx.locked = true
	}
	head, trusted := tx.knownHead()
	for {
		if head == nil {
			head = &eventHead{}
			err := tx.QueryRow(ctx, `SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`).Scan(&head.seq, &head.hash)
			if err != nil && !noRows(err) {
				return fmt.Errorf("append event: %w", err)
			}
		}
		s, next := tx.appendStmt(evs, head)
		_, err := tx.Exec(ctx, s.Q, s.Args...)
		if trusted && db.d.IsUnique(err) {
			// Another process appended: read the head, here or in the writer's next run.
			db.head = nil
			if db.d.Aborts {
				return errStaleHead
			}
			head, trusted = nil, false
			continue
		}
		if err != nil {
			tx.head = nil
			return fmt.Errorf("append event %s: %w", evs[len(evs)-1].Action, err)
		}
		tx.head = next
		return nil
	}
}

// events fills in the events of as what their callers left empty (Subject, Service and
// Environment, from the record each is about) and returns them, nil ones skipped.
func events(as []audited) []*strata.Event {
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
	return evs
}

// Head is the audit log's newest event: its sequence number and hash (0 and "" for an
// empty log).
type Head struct {
	Seq  int64
	Hash string
}

// KnowHead gives the store the audit log's head as an adapter read it outside any
// transaction (when it opened the store, in the round trip of other reads), so that the
// first append need not read it. Where the dialect trusts heads it is trusted as the head
// this process appended last is: when another process appended since, the INSERT of the
// next seq fails, and the head is read. Call it before the store's first write.
func (db *DB) KnowHead(h Head) {
	if db.d.TrustHead {
		db.head = &eventHead{seq: h.Seq, hash: h.Hash}
	}
}

// knownHead returns the audit log's head where it is known without reading it, else nil. A
// head this transaction read or appended is the head: the audit lock, or the writer's hold
// on the whole database, keeps others out until it ends. The head this process appended in
// an earlier transaction is trusted only where the dialect says so (trusted): when another
// process appended since, the INSERT of the next seq fails, and the head must be read.
func (tx *txn) knownHead() (head *eventHead, trusted bool) {
	if tx.head != nil {
		return tx.head, false
	}
	if tx.db.d.TrustHead && tx.db.head != nil {
		return tx.db.head, true
	}
	return nil, false
}

// appendStmt returns the INSERT of evs after head, having set each event's Seq, At, Prev
// and Hash, and the head the INSERT leaves.
func (tx *txn) appendStmt(evs []*strata.Event, head *eventHead) (Stmt, *eventHead) {
	q := `INSERT INTO events (seq, at, actor, action, service, environment, subject, detail, prev, hash) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(evs)), ", ")
	args := make([]any, 0, 10*len(evs))
	seq, prev := head.seq, head.hash
	at := tx.db.clock()
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
	return Stmt{Q: q, Args: args}, &eventHead{seq: seq, hash: prev}
}

// AppendEvent records an event that goes with no other change (e.g. a denied request).
// EINVALID when e is nil or has no action.
func (db *DB) AppendEvent(ctx context.Context, e *strata.Event) error {
	if e == nil || e.Action == "" {
		return strata.Errorf(strata.EINVALID, "an audit event needs an action")
	}
	err := db.write(ctx, func(tx *txn) error {
		return tx.audit(ctx, e, "", "", "")
	})
	return sqlrow.Wrap(err, "append event %s", e.Action)
}

// eventColumns are the columns scanEvent reads.
const eventColumns = `seq, at, actor, action, service, environment, subject, detail, prev, hash`

// eventsQuery is the query Events runs for f, and its arguments; newestFirst orders it so
// for a scan.
func eventsQuery(f strata.EventFilter, newestFirst bool) (string, []any) {
	var c conds
	c.equal("service", f.Service)
	if f.Environment != "" && f.Unplaced {
		c.where = append(c.where, "environment IN (?, '')")
		c.args = append(c.args, f.Environment)
	} else {
		c.equal("environment", f.Environment)
	}
	c.equal("actor", f.Actor)
	c.equal("action", f.Action)
	if f.Before > 0 {
		c.where = append(c.where, "seq < ?")
		c.args = append(c.args, f.Before)
	}
	q := `SELECT ` + eventColumns + ` FROM events` + c.clause()
	if newestFirst {
		return q + ` ORDER BY seq DESC` + c.limit(f.Limit), c.args
	}
	if f.Limit > 0 {
		q = `SELECT * FROM (` + q + ` ORDER BY seq DESC` + c.limit(f.Limit) + `) AS newest ORDER BY seq`
	} else {
		q += ` ORDER BY seq`
	}
	return q, c.args
}

// Events returns audit events f selects, oldest first; with f.Limit, the newest Limit of
// them, still oldest first.
func (db *DB) Events(ctx context.Context, f strata.EventFilter) ([]*strata.Event, error) {
	q, args := eventsQuery(f, false)
	return list(ctx, db, "list events", q, args, scanEvent)
}

// ScanEvents calls fn with each event f selects, oldest first (newest first when
// newestFirst), one row at a time from the database. ErrStopScan from fn ends it early.
func (db *DB) ScanEvents(ctx context.Context, f strata.EventFilter, newestFirst bool, fn func(*strata.Event) error) error {
	q, args := eventsQuery(f, newestFirst)
	err := each(ctx, db.b.Read(), q, args, func(s scanner) error {
		e, err := scanEvent(s)
		if err != nil {
			return fmt.Errorf("scan events: %w", err)
		}
		return fn(e)
	})
	if errors.Is(err, strata.ErrStopScan) {
		return nil
	}
	return err
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
