package sqlite

import (
	"context"
	"database/sql"
)

// The write connection keeps its statements prepared: a deployment's lifecycle runs the
// same few statements thousands of times, and parsing them is a quarter of the cost. A
// statement is run unprepared the first time, then prepared once its transaction has ended
// (the only write connection is busy until then).

// stmt returns q prepared for tx, or nil when it is not prepared yet.
func (db *DB) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	db.mu.RLock()
	st := db.stmts[q]
	db.mu.RUnlock()
	if st != nil {
		return tx.StmtContext(ctx, st)
	}
	db.mu.Lock()
	db.want[q] = true
	db.mu.Unlock()
	return nil
}

// exec runs q in tx.
func (db *DB) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := db.stmt(ctx, tx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// queryRow runs q in tx for one row.
func (db *DB) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := db.stmt(ctx, tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// prepareWanted prepares the statements transactions asked for. It runs between
// transactions; a statement that fails to prepare is simply run unprepared again.
func (db *DB) prepareWanted() {
	db.mu.Lock()
	if len(db.want) == 0 {
		db.mu.Unlock()
		return
	}
	want := db.want
	db.want = map[string]bool{}
	db.mu.Unlock()
	for q := range want {
		st, err := db.write.Prepare(q)
		if err != nil {
			continue
		}
		db.mu.Lock()
		if db.stmts[q] == nil {
			db.stmts[q] = st
			st = nil
		}
		db.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

// closeStmts closes every prepared statement.
func (db *DB) closeStmts() {
	db.mu.Lock()
	defer db.mu.Unlock()
	for q, st := range db.stmts {
		st.Close()
		delete(db.stmts, q)
	}
}
