// Package sqlstore is the Store written once for every SQL database Strata runs on. The
// records, their transactions, claims, compare-and-set updates, the audit chain and the group
// commit live here; an adapter package (sqlite, postgres) opens its database, applies its
// migrations and gives this package two small things: a Backend (how to begin a write
// transaction and read outside one) and a Dialect (the few words of SQL that differ).
//
// Statements are written with ? placeholders; a Backend whose database numbers them ($1)
// rewrites them. Claims use INSERT ... ON CONFLICT DO NOTHING, which both databases read the
// same way and which leaves the transaction usable when the claim is refused, so that the
// holder can be named in the same transaction and a refused claim need not undo the work
// before it.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// Row is one row of a query; Scan returns an error that errors.Is sql.ErrNoRows when there
// was none.
type Row interface {
	Scan(dest ...any) error
}

// Rows are the rows of a query, read with Next and Scan and released with Close.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Querier runs statements: inside a transaction, or outside one for reads.
type Querier interface {
	// Exec runs q and returns how many rows it changed.
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	QueryRow(ctx context.Context, q string, args ...any) Row
	Query(ctx context.Context, q string, args ...any) (Rows, error)
}

// Tx is a write transaction a Backend began.
type Tx interface {
	Querier
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Stmt is one statement of a pipeline, with its arguments.
type Stmt struct {
	Q    string
	Args []any
}

// Pipeliner is a Tx that sends several statements at once: one round trip to a server
// where each statement would take one. The store runs the statements of a Tx that is not
// one, one after another.
type Pipeliner interface {
	// ExecAll runs stmts in order and returns how many rows each changed. It stops at the
	// first that fails and returns that statement's error, with one count for each
	// statement before it.
	ExecAll(ctx context.Context, stmts []Stmt) ([]int64, error)
	// ExecAllCommit is ExecAll followed by the transaction's commit, in the same round
	// trip, when each of the first checked statements changes exactly one row. When one
	// changes another number of rows, or any statement fails, nothing is committed: it
	// stops there, with the counts before it and an error, and the transaction is left to
	// be rolled back. Once it has committed, Commit has nothing left to do.
	ExecAllCommit(ctx context.Context, stmts []Stmt, checked int) ([]int64, error)
}

// Backend is the database under the store: where write transactions begin and reads run.
// Begin is called by one writer at a time (the group commit's leader).
type Backend interface {
	Begin(ctx context.Context) (Tx, error)
	// Read is where statements outside a transaction run; it sees every committed write.
	Read() Querier
}

// Dialect is the SQL that differs between databases, and how their errors read.
type Dialect struct {
	// Order is the column that orders rows of a table by insertion (SQLite's rowid, a
	// serial column elsewhere): the tie-break of "newest first".
	Order string
	// Approvals is an expression, in a query of promotions, that is the JSON text array of
	// the promotion's [principal, at] pairs in the order they were given.
	Approvals string
	// ForUpdate ends a SELECT that reads rows the transaction will change (" FOR UPDATE"),
	// where the database locks rows; "" where a writer holds the whole database.
	ForUpdate string
	// Bytewise follows a column in ORDER BY to compare its text byte by byte
	// (` COLLATE "C"`), where the database's default collation would not.
	Bytewise string
	// SkipLocked ends a SELECT that claims rows concurrent claimers should pass over.
	SkipLocked string
	// ActiveIndex follows "FROM deployments" in a query of the active deployments, to name
	// the partial index that holds them (" INDEXED BY ..."), where the planner needs telling.
	ActiveIndex string
	// AuditLock, when set, is run once per transaction before the audit log's head is read,
	// so that writers in other processes append one after another.
	AuditLock string
	// TrustHead says the head this process appended last may be used without reading it:
	// when another process appended since, the INSERT of the next seq fails on the primary
	// key, and the head is read.
	TrustHead bool
	// Aborts says a statement that fails ends its transaction (PostgreSQL): a writer whose
	// trusted head was taken then runs again, in a new transaction, rather than reading the
	// head in the same one (SQLite, which undoes the failed statement alone).
	Aborts bool
	// IsUnique reports whether err violates a unique index or primary key.
	IsUnique func(err error) bool
	// IsForeignKey reports whether err violates a foreign key.
	IsForeignKey func(err error) bool
}

// DB is the Store on a Backend. It is safe for concurrent use.
type DB struct {
	b      Backend
	d      Dialect
	now    func() time.Time
	commit committer
	// head is the audit log's newest event as this process last appended it, when the
	// dialect trusts it (audit.go); only the group commit's leader touches it.
	head *eventHead
}

// The core keeps every record of a strata.Store but its bundles, which each adapter keeps in
// its own way (files beside SQLite's database, chunks in PostgreSQL).
var _ interface {
	strata.ReleaseStore
	strata.DeploymentStore
	strata.LogStore
	strata.PromotionStore
	strata.FreezeStore
	strata.EventStore
	strata.EnvironmentStore
	strata.TokenStore
	strata.HealthStore
	strata.WebhookStore
	StoredSchema(ctx context.Context) (int, error)
} = (*DB)(nil)

// New returns the store on b, speaking d. Now is the clock (time.Now when nil).
func New(b Backend, d Dialect, now func() time.Time) *DB {
	if now == nil {
		now = time.Now
	}
	return &DB{b: b, d: d, now: now}
}

// Close does nothing: the adapter that opened the Backend closes it.
func (db *DB) Close() error { return nil }

// clock returns the store's clock in UTC, rounded to what nanos keeps.
func (db *DB) clock() time.Time {
	return sqlrow.FromNanos(db.now().UnixNano())
}

// orNow returns t in UTC, or the store's clock when t is zero.
func (db *DB) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return db.clock()
	}
	return sqlrow.FromNanos(t.UnixNano())
}

// noRows reports whether err says a query found no row.
func noRows(err error) bool { return err != nil && errors.Is(err, sql.ErrNoRows) }

// StoredSchema returns the newest migration the store's database holds.
func (db *DB) StoredSchema(ctx context.Context) (int, error) {
	var v int
	if err := db.b.Read().QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
