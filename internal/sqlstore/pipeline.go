package sqlstore

import (
	"context"
	"errors"
	"fmt"
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

// pipelined returns a writer's work that runs quick (a pipeline) until it diverges, and
// careful, in a new transaction, from then on: in every later run of the same work.
func pipelined(quick, careful func(tx *txn) error) func(tx *txn) error {
	diverged := false
	return func(tx *txn) error {
		if diverged {
			return careful(tx)
		}
		err := quick(tx)
		if errors.Is(err, errDiverged) {
			diverged = true
		}
		return err
	}
}
