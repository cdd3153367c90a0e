// Package postgres is the Store on PostgreSQL: the shared store that several `serve`
// replicas and many agents use at once, each from its own machine.
//
// Every exported method owns one READ COMMITTED transaction. Exclusive claims (one active
// deployment per service and environment, one open promotion per service, version and stage)
// are partial unique indexes: of two concurrent claims, the second insert waits for the first
// to commit and then fails, inside a savepoint, so its transaction goes on to read the winner
// and name it.
// Compare-and-set updates (owner of a deployment, a waiting promotion) are single UPDATE
// statements whose WHERE PostgreSQL re-checks after waiting on a concurrent writer. Appending
// to the audit chain takes one advisory lock per store, so sequence numbers have no gaps and
// each event's prev is the hash of the one before it.
//
// Times are kept as unix nanoseconds, exactly as the SQLite store keeps them, so an event's
// hash is the same whichever store computed it.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata"
)

// DB is a Strata store in one PostgreSQL schema (the first of the connection's
// search_path). It is safe for concurrent use, and any number of DBs, in any number of
// processes and machines, may share the schema.
type DB struct {
	name       string // the URL without its password, for messages
	searchPath string // as the URL gave it ("" for the server's default)
	schema     string // the schema the store lives in
	auditKey   int64  // the advisory lock that orders appends to the audit chain
	now        func() time.Time
	pool       *pool
}

var _ strata.Store = (*DB)(nil)

// poolSize is how many connections one DB keeps open at most.
const poolSize = 8

// Open connects to the PostgreSQL server at url (postgres://user@host:port/db?..., or any
// form pgx accepts; search_path= picks the schema), applies embedded migrations each in its
// own transaction, and returns the store. Now is the clock (time.Now when nil). Processes
// that open a new store at once wait for each other: one migrates, the others see it done.
//
// A schema that holds other tables but no Strata store, or one written by a newer Strata, is
// refused with an EINVALID *strata.Error and left untouched. Error messages never show the
// password.
func Open(url string, now func() time.Time) (*DB, error) {
	if now == nil {
		now = time.Now
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgconn's parse errors show the connection string with its password masked.
		return nil, &strata.Error{Code: strata.EINVALID, Message: "open PostgreSQL store", Err: err}
	}
	db := &DB{name: Name(cfg), searchPath: cfg.RuntimeParams["search_path"], now: now, pool: newPool(cfg, poolSize)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := db.migrate(ctx); err != nil {
		db.pool.close()
		if _, ok := err.(*strata.Error); ok {
			return nil, err
		}
		return nil, fmt.Errorf("open store %s: %w", db.name, err)
	}
	return db, nil
}

// Name returns how messages name the store of cfg: its URL without the password.
func Name(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Close releases the store's connections.
func (db *DB) Close() error {
	if err := db.pool.close(); err != nil {
		return fmt.Errorf("close store %s: %w", db.name, err)
	}
	return nil
}

// String returns the store's URL without its password.
func (db *DB) String() string { return db.name }

// tx runs fn in one transaction on a connection of the pool and commits when fn returns
// nil.
func (db *DB) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	c, err := db.pool.acquire(ctx)
	if err != nil {
		return err
	}
	defer db.pool.release(c)
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return tx.Commit(ctx)
}

// query runs q outside any transaction and calls each for every row.
func (db *DB) query(ctx context.Context, q string, args []any, each func(pgx.Rows) error) error {
	c, err := db.pool.acquire(ctx)
	if err != nil {
		return err
	}
	defer db.pool.release(c)
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryRow runs q outside any transaction and scans its one row with scan; pgx.ErrNoRows
// when there is none.
func (db *DB) queryRow(ctx context.Context, q string, args []any, scan func(pgx.Row) error) error {
	c, err := db.pool.acquire(ctx)
	if err != nil {
		return err
	}
	defer db.pool.release(c)
	return scan(c.QueryRow(ctx, q, args...))
}

// withConn runs fn with a connection of the pool, outside any transaction.
func (db *DB) withConn(ctx context.Context, fn func(c *pgx.Conn) error) error {
	c, err := db.pool.acquire(ctx)
	if err != nil {
		return err
	}
	defer db.pool.release(c)
	return fn(c)
}
