package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-dev/strata"
)

// Pipelines. On a server every statement is a round trip, and a deployment's writes are
// several: the update of the one that ended, the claim of the next, the audit lock, their
// events. All of them are known before any runs, and what the writer needs back from the
// first ones is only that each changed its one row. So the writer sends them at once (a
// pgx batch on PostgreSQL, one after another where the backend is not a Pipeliner) and
// checks afterwards. When a statement changed no row or failed (a lease lost, a pair held
// by another deployment, a claim refused), what ran after it must not stand: the writer's
// work is rolled back (errDiverged) and runs again statement by statement, in a new
// transaction, where each step is read before the next and every refusal is explained as
// it always was. That is the rare path; a promotion's deployments take the quick one.

// errDiverged says a writer's pipeline did not go as expected: its work runs again,
// carefully, in a new transaction.
var errDiverged = errors.New("a pipelined statement did not change its row")

// execAll runs stmts in order and returns how many rows each changed, stopping at the first
// that fails (Pipeliner.ExecAll).
func (tx *txn) execAll(ctx context.Context, stmts []Stmt) ([]int64, error) {
	if p, ok := tx.Tx.(Pipeliner); ok {
		return p.ExecAll(ctx, stmts)
	}
	rows := make([]int64, 0, len(stmts))
	for _, s := range stmts {
		n, err := tx.Exec(ctx, s.Q, s.Args...)
		if err != nil {
			return rows, err
		}
		rows = append(rows, n)
	}
	return rows, nil
}

// pipeline runs stmts, each of which must change exactly one row, and appends the events
// of as after them, all in one round trip where the audit log's head is known (knownHead);
// where it is not, the events are appended after the statements as auditAll does. It
// returns errDiverged when a statement changed no row or failed, and errStaleHead when the
// trusted head turned out stale where a failed statement ends the transaction.
func (tx *txn) pipeline(ctx context.Context, stmts []Stmt, as ...audited) error {
	evs := events(as)
	db := tx.db
	own := len(stmts)
	head, trusted := tx.knownHead()
	var next *eventHead
	locking := false
	if len(evs) > 0 && head != nil {
		all := make([]Stmt, 0, own+2)
		all = append(all, stmts...)
		if db.d.AuditLock != "" && !tx.locked {
			all = append(all, Stmt{Q: db.d.AuditLock})
			locking = true
		}
		var s Stmt
		s, next = tx.appendStmt(evs, head)
		stmts = append(all, s)
	}
	rows, err := tx.execAll(ctx, stmts)
	for i := 0; i < own && i < len(rows); i++ {
		if rows[i] != 1 {
			return errDiverged
		}
	}
	if err != nil && len(rows) < own {
		return errDiverged
	}
	if locking && len(rows) > own {
		tx.locked = true
	}
	if err != nil {
		tx.head = nil
		if locking && len(rows) == own {
			return fmt.Errorf("append event: wait for the audit log: %w", err)
		}
		if trusted && db.d.IsUnique(err) {
			// Another process appended: read the head, here or in the writer's next run.
			db.head = nil
			if db.d.Aborts {
				return errStaleHead
			}
			return tx.auditAll(ctx, as...)
		}
		return fmt.Errorf("append event %s: %w", evs[len(evs)-1].Action, err)
	}
	if next != nil {
		tx.head = next
		return nil
	}
	return tx.auditAll(ctx, as...)
}

// planned is a writer's work that has a quick way: statements that must each change one
// row, and events to append after them, which the group commit may send together with
// other writers' (pipeAll). From the first run in which the quick way diverges, the work
// runs the careful way.
type planned struct {
	// plan returns the quick way's statements and events, having reset whatever the work
	// reports to its caller as the quick way would leave it.
	plan func() ([]Stmt, []audited)
	// careful is the work done statement by statement.
	careful  func(tx *txn) error
	diverged bool
}

// run runs the work alone in tx: quick until it diverges, careful from then on.
func (p *planned) run(ctx context.Context, tx *txn) error {
	if p.diverged {
		return p.careful(tx)
	}
	stmts, as := p.plan()
	err := tx.pipeline(ctx, stmts, as...)
	if errors.Is(err, errDiverged) {
		p.diverged = true
	}
	return err
}

// writePlanned runs p as write runs a writer's work.
func (db *DB) writePlanned(ctx context.Context, p *planned) error {
	return db.submit(&job{ctx: ctx, fn: func(tx *txn) error { return p.run(ctx, tx) }, planned: p})
}

// pipeAll runs the quick way of every job of batch in tx, all of them in one round trip
// where each job's is one: their statements in order, then the audit lock, then each job's
// events, chained; where the Tx is a Pipeliner, the commit goes in the same round trip
// (ExecAllCommit), and the caller's Commit finds nothing left to do. It reports false when
// it cannot (a job without a quick way, or whose quick way diverged before; an audit head
// to read first), having sent nothing, and errDiverged when a statement changed no row or
// any failed: the caller rolls back and runs each job alone, where the one that diverged
// finds out again and goes the careful way.
func (db *DB) pipeAll(tx *txn, batch []*job) (bool, error) {
	head, trusted := tx.knownHead()
	if head == nil {
		return false, nil
	}
	for _, j := range batch {
		if j.planned == nil || j.planned.diverged || j.ctx.Err() != nil {
			return false, nil
		}
	}
	var stmts []Stmt
	own := make([]int, len(batch)) // statements of each job, which must change one row
	var evs [][]*strata.Event
	for i, j := range batch {
		s, as := j.planned.plan()
		stmts = append(stmts, s...)
		own[i] = len(s)
		if e := events(as); len(e) > 0 {
			evs = append(evs, e)
		}
	}
	checked := len(stmts)
	locking := len(evs) > 0 && db.d.AuditLock != "" && !tx.locked
	if locking {
		stmts = append(stmts, Stmt{Q: db.d.AuditLock})
	}
	next := head
	for _, e := range evs {
		var s Stmt
		s, next = tx.appendStmt(e, next)
		stmts = append(stmts, s)
	}
	var rows []int64
	var err error
	if p, ok := tx.Tx.(Pipeliner); ok {
		rows, err = p.ExecAllCommit(context.Background(), stmts, checked)
	} else {
		rows, err = tx.execAll(context.Background(), stmts)
	}
	for i := 0; i < checked && i < len(rows); i++ {
		if rows[i] != 1 {
			return true, errDiverged
		}
	}
	if err != nil {
		if trusted && len(rows) > checked && db.d.IsUnique(err) {
			db.head = nil // another process appended: read the head next time
		}
		return true, errDiverged
	}
	if locking {
		tx.locked = true
	}
	tx.head = next
	return true, nil
}
