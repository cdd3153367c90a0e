package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strata-dev/strata/internal/sqlstore"
)

// backend is the Store's way into the server: transactions and reads on a pgxpool, with the
// core's ? placeholders numbered as PostgreSQL wants them ($1, $2, ...). pgx prepares each
// statement once per connection and caches it; a read outside a transaction, only from its
// second run in the process (reader).
type backend struct {
	pool    *pgxpool.Pool
	rebound sync.Map // statement with ? -> statement with $n
	read    sync.Map // statements the reader has run (with $n) -> true
}

// Begin takes a connection of the pool for a READ COMMITTED transaction, which holds it
// until the transaction ends. BEGIN itself goes with the transaction's first statements
// (writeTx), not in a round trip of its own.
func (b *backend) Begin(ctx context.Context) (sqlstore.Tx, error) {
	c, err := b.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &writeTx{b: b, c: c}, nil
}

// Read returns the pool: each read runs on a connection of its own, outside a transaction.
func (b *backend) Read() sqlstore.Querier { return reader{b} }

// bind returns q with its placeholders numbered. The core's statements hold no ? inside a
// string literal or an identifier, so every ? is a placeholder.
func (b *backend) bind(q string) string {
	if v, ok := b.rebound.Load(q); ok {
		return v.(string)
	}
	var out strings.Builder
	out.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			out.WriteByte(q[i])
			continue
		}
		n++
		out.WriteString("$" + strconv.Itoa(n))
	}
	s := out.String()
	b.rebound.Store(q, s)
	return s
}

// one returns q, a statement that changes rows, as a query that returns one row where q
// changes exactly one, and fails (division by zero) where it changes another number: the
// failure stops a batch before its COMMIT.
func (b *backend) one(q string) string {
	key := "one\x00" + q
	if v, ok := b.rebound.Load(key); ok {
		return v.(string)
	}
	s := "WITH changed AS (" + b.bind(q) + " RETURNING 1) SELECT 1 / (count(*) = 1)::int FROM changed"
	b.rebound.Store(key, s)
	return s
}

// writeTx is a transaction on a connection of the pool. Its BEGIN is sent with its first
// statements: in the same batch as a pipeline (ExecAll), else just before the first
// statement. A store's write is a few round trips (begin, its statements, commit), so the
// one saved is a third of them. The connection goes back to the pool when the transaction
// ends; the pool closes one that is still in a transaction (a ROLLBACK that failed).
type writeTx struct {
	b     *backend
	c     *pgxpool.Conn
	begun bool // BEGIN has been sent and succeeded
}

var _ sqlstore.Pipeliner = (*writeTx)(nil)

// begin sends BEGIN unless it has been sent.
func (t *writeTx) begin(ctx context.Context) error {
	if t.begun {
		return nil
	}
	if _, err := t.c.Exec(ctx, "BEGIN"); err != nil {
		return err
	}
	t.begun = true
	return nil
}

func (t *writeTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if !t.begun {
		rows, err := t.ExecAll(ctx, []sqlstore.Stmt{{Q: q, Args: args}})
		if err != nil {
			return 0, err
		}
		return rows[0], nil
	}
	tag, err := t.c.Exec(ctx, t.b.bind(q), args...)
	return rowsAffected(tag, err)
}

func (t *writeTx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	if err := t.begin(ctx); err != nil {
		return errRow{err}
	}
	return t.c.QueryRow(ctx, t.b.bind(q), args...)
}

func (t *writeTx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.c.Query(ctx, t.b.bind(q), args...)
}

// ExecAll sends stmts as one batch, after BEGIN when the transaction has not begun: one
// round trip, where Exec takes one each. The server skips what follows a statement that
// fails, and the transaction is then aborted.
func (t *writeTx) ExecAll(ctx context.Context, stmts []sqlstore.Stmt) ([]int64, error) {
	return t.send(ctx, stmts, 0, false)
}

// ExecAllCommit sends stmts and COMMIT as one batch (after BEGIN when the transaction has
// not begun): a whole transaction in one round trip. Each of the first checked statements
// is sent as a query that fails when the statement changes other than one row (one), so
// that the server skips the rest of the batch, COMMIT included, and the transaction is
// left aborted for the caller to roll back.
func (t *writeTx) ExecAllCommit(ctx context.Context, stmts []sqlstore.Stmt, checked int) ([]int64, error) {
	return t.send(ctx, stmts, checked, true)
}

// errNotOne says a checked statement of ExecAllCommit changed other than one row.
var errNotOne = errors.New("a statement did not change exactly one row")

// send sends stmts as one batch, the first checked of them as one makes them, and COMMIT
// after them when commit.
func (t *writeTx) send(ctx context.Context, stmts []sqlstore.Stmt, checked int, commit bool) ([]int64, error) {
	var b pgx.Batch
	beginning := !t.begun
	if beginning {
		b.Queue("BEGIN")
	}
	for i, s := range stmts {
		if i < checked {
			b.Queue(t.b.one(s.Q), s.Args...)
		} else {
			b.Queue(t.b.bind(s.Q), s.Args...)
		}
	}
	if commit {
		b.Queue("COMMIT")
	}
	br := t.c.SendBatch(ctx, &b)
	if beginning {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, err
		}
		t.begun = true
	}
	rows := make([]int64, 0, len(stmts))
	for i := range stmts {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			if i < checked && isDivisionByZero(err) {
				err = errNotOne
			}
			return rows, err
		}
		rows = append(rows, tag.RowsAffected())
	}
	if commit {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return rows, err
		}
		if tag.String() != "COMMIT" {
			br.Close()
			return rows, pgx.ErrTxCommitRollback
		}
		t.begun = false
	}
	return rows, br.Close()
}

// Commit commits what was sent, and gives the connection back. A transaction that sent
// nothing has nothing to commit. A transaction a failed statement aborted is rolled back by
// its COMMIT, which is then an error (pgx.ErrTxCommitRollback), as pgx's own Commit says.
func (t *writeTx) Commit(ctx context.Context) error {
	defer t.release()
	if !t.begun {
		return nil
	}
	tag, err := t.c.Exec(ctx, "COMMIT")
	if err != nil {
		return err
	}
	if tag.String() != "COMMIT" {
		return pgx.ErrTxCommitRollback
	}
	t.begun = false
	return nil
}

// Rollback undoes what was sent, and gives the connection back.
func (t *writeTx) Rollback(ctx context.Context) error {
	defer t.release()
	if !t.begun {
		return nil
	}
	_, err := t.c.Exec(ctx, "ROLLBACK")
	if err == nil {
		t.begun = false
	}
	return err
}

// release gives the connection back to the pool, once.
func (t *writeTx) release() {
	if t.c != nil {
		t.c.Release()
		t.c = nil
	}
}

// errRow is a row whose query could not be sent.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// reader runs statements on the pool, outside any transaction. The first time the process
// runs a statement it goes unprepared, in one round trip (pgx's exec mode: parameters typed
// by their Go types), where preparing it first costs two; from the second time pgx prepares
// it, once per connection, and runs it prepared. Every command of the CLI opens the store
// and reads a few statements once each; serve reads the same ones again and again.
type reader struct{ b *backend }

// args returns args, led by the mode q goes in when the process has not run it before.
func (r reader) args(q string, args []any) []any {
	if _, seen := r.b.read.LoadOrStore(q, true); seen {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

func (r reader) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	q = r.b.bind(q)
	tag, err := r.b.pool.Exec(ctx, q, r.args(q, args)...)
	return rowsAffected(tag, err)
}

func (r reader) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	q = r.b.bind(q)
	return r.b.pool.QueryRow(ctx, q, r.args(q, args)...)
}

func (r reader) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	q = r.b.bind(q)
	return r.b.pool.Query(ctx, q, r.args(q, args)...)
}

func rowsAffected(tag pgconn.CommandTag, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
