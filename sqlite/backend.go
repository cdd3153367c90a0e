package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/strata-dev/strata/internal/sqlstore"
)

// backend is the Store's way into the file: write transactions on the one write connection
// (BEGIN IMMEDIATE, so a writer queues for the lock instead of failing when another process
// writes), reads on a pool that never waits for a writer (WAL mode).
//
// The write connection keeps its statements prepared: a deployment's lifecycle runs the
// same few statements thousands of times, and parsing them is a quarter of the cost. A
// statement is run unprepared the first time, then prepared before the next transaction
// begins (the only write connection is busy until then).
type backend struct {
	write *sql.DB // one connection: this process's writers queue here
	read  *sql.DB // several connections for reads, never blocked by a writer in WAL mode

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt // prepared on write
	want  map[string]bool      // statements to prepare once the write connection is free
	reads map[string]*sql.Stmt // prepared on the read pool (readStmt)
}

// Begin prepares what the last transactions asked for, then begins a write transaction.
func (b *backend) Begin(ctx context.Context) (sqlstore.Tx, error) {
	b.prepareWanted()
	tx, err := b.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &writeTx{b: b, tx: tx}, nil
}

// Read returns the read pool.
func (b *backend) Read() sqlstore.Querier { return reader{b} }

// writeTx is a write transaction whose statements run prepared once they have been seen.
type writeTx struct {
	b  *backend
	tx *sql.Tx
}

func (t *writeTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if st := t.b.stmt(ctx, t.tx, q); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = t.tx.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *writeTx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	if st := t.b.stmt(ctx, t.tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (t *writeTx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (t *writeTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t *writeTx) Rollback(context.Context) error { return t.tx.Rollback() }

// reader runs statements on the read pool, prepared (readStmt).
type reader struct{ b *backend }

func (r reader) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := r.b.read.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (r reader) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	if st := r.b.readStmt(q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.b.read.QueryRowContext(ctx, q, args...)
}

func (r reader) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	var rows *sql.Rows
	var err error
	if st := r.b.readStmt(q); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = r.b.read.QueryContext(ctx, q, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// maxReadStmts bounds the statements kept prepared for reads: a few dozen queries are run
// over and over (a deployment by id, a token by hash); a query whose text varies (a list
// of names) beyond the bound runs unprepared.
const maxReadStmts = 256

// readStmt returns q prepared on the read pool, preparing it the first time (database/sql
// prepares it again on each connection of the pool it runs on, once), or nil when it
// cannot be prepared or the bound is reached. Parsing a statement was a third of the cost
// of reading a deployment by id (bench/agents).
func (b *backend) readStmt(q string) *sql.Stmt {
	b.mu.RLock()
	st, ok := b.reads[q]
	full := len(b.reads) >= maxReadStmts
	b.mu.RUnlock()
	if ok || full {
		return st
	}
	st, err := b.read.Prepare(q)
	if err != nil {
		// Run unprepared, to get the statement's own error (or its result).
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.reads[q]; ok || len(b.reads) >= maxReadStmts {
		st.Close()
		return old
	}
	if b.reads == nil {
		b.reads = map[string]*sql.Stmt{}
	}
	b.reads[q] = st
	return st
}

// sqlRows are database/sql's rows, whose Close returns an error nobody reads.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// stmt returns q prepared for tx, or nil when it is not prepared yet.
func (b *backend) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	b.mu.RLock()
	st := b.stmts[q]
	b.mu.RUnlock()
	if st != nil {
		return tx.StmtContext(ctx, st)
	}
	b.mu.Lock()
	b.want[q] = true
	b.mu.Unlock()
	return nil
}

// prepareWanted prepares the statements transactions asked for. It runs between
// transactions; a statement that fails to prepare is simply run unprepared again.
func (b *backend) prepareWanted() {
	b.mu.Lock()
	if len(b.want) == 0 {
		b.mu.Unlock()
		return
	}
	want := b.want
	b.want = map[string]bool{}
	b.mu.Unlock()
	for q := range want {
		st, err := b.write.Prepare(q)
		if err != nil {
			continue
		}
		b.mu.Lock()
		if b.stmts[q] == nil {
			b.stmts[q] = st
			st = nil
		}
		b.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

// closeStmts closes every prepared statement.
func (b *backend) closeStmts() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for q, st := range b.stmts {
		st.Close()
		delete(b.stmts, q)
	}
	for q, st := range b.reads {
		st.Close()
		delete(b.reads, q)
	}
}
