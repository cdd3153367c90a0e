package postgres

import (
	"context"
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
// statement once per connection and caches it.
type backend struct {
	pool    *pgxpool.Pool
	rebound sync.Map // statement with ? -> statement with $n
}

// Begin begins a READ COMMITTED transaction on a connection of the pool, which it holds
// until the transaction ends.
func (b *backend) Begin(ctx context.Context) (sqlstore.Tx, error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &writeTx{b: b, tx: tx}, nil
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

// writeTx is a transaction of the pool.

var _ sqlstore.Pipeliner = (*writeTx)(nil)

type writeTx struct {
	b  *backend
	tx pgx.Tx
}

func (t *writeTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, t.b.bind(q), args...)
	return rowsAffected(tag, err)
}

func (t *writeTx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return t.tx.QueryRow(ctx, t.b.bind(q), args...)
}

func (t *writeTx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return t.tx.Query(ctx, t.b.bind(q), args...)
}

// ExecAll sends stmts as one batch: one round trip, where Exec takes one each. The server
// skips what follows a statement that fails, and the transaction is then aborted.
func (t *writeTx) ExecAll(ctx context.Context, stmts []sqlstore.Stmt) ([]int64, error) {
	var b pgx.Batch
	for _, s := range stmts {
		b.Queue(t.b.bind(s.Q), s.Args...)
	}
	br := t.tx.SendBatch(ctx, &b)
	rows := make([]int64, 0, len(stmts))
	for range stmts {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return rows, err
		}
		rows = append(rows, tag.RowsAffected())
	}
	return rows, br.Close()
}

func (t *writeTx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t *writeTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

// reader runs statements on the pool, outside any transaction.
type reader struct{ b *backend }

func (r reader) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := r.b.pool.Exec(ctx, r.b.bind(q), args...)
	return rowsAffected(tag, err)
}

func (r reader) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return r.b.pool.QueryRow(ctx, r.b.bind(q), args...)
}

func (r reader) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return r.b.pool.Query(ctx, r.b.bind(q), args...)
}

func rowsAffected(tag pgconn.CommandTag, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
