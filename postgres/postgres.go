// Package postgres is the Store on PostgreSQL: the shared store that several `serve`
// replicas and many agents use at once, each from its own machine.
//
// The records are written and read by the SQL core every store shares (internal/sqlstore);
// this package connects (a pgxpool), applies its migrations and gives the core PostgreSQL's
// words. Every write is one READ COMMITTED transaction, shared by the writers of this process
// that wait at the same time (the core's group commit). Exclusive claims (one active
// deployment per service and environment, one open promotion per service, version and stage)
// are partial unique indexes: of two concurrent claims, the second insert waits for the first
// to commit and then does nothing (ON CONFLICT DO NOTHING), so its transaction goes on to
// read the winner and name it. Compare-and-set updates (owner of a deployment, a waiting
// promotion) are single UPDATE statements whose WHERE PostgreSQL re-checks after waiting on a
// concurrent writer. Appending to the audit chain takes one advisory lock per store, so
// sequence numbers have no gaps and each event's prev is the hash of the one before it.
//
// Times are kept as unix nanoseconds, exactly as the SQLite store keeps them, so an event's
// hash is the same whichever store computed it.
package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlstore"
)

// DB is a Strata store in one PostgreSQL schema (the first of the connection's
// search_path). It is safe for concurrent use, and any number of DBs, in any number of
// processes and machines, may share the schema. Its records are written and read by the SQL
// core (sqlstore) every store shares; this package connects, migrates and speaks PostgreSQL.
type DB struct {
	*sqlstore.DB
	name       string          // the URL without its password, for messages
	searchPath string          // as the URL gave it ("" for the server's default)
	schema     string          // the schema the store lives in
	channel    string          // the NOTIFY channel of its queues (queue.go)
	connConfig *pgx.ConnConfig // for the connection that listens (queue.go)
	b          *backend
	now        func() time.Time
	// head is the audit log's head as the store was opened, when read (migrate.go).
	head *sqlstore.Head
}

var _ strata.Store = (*DB)(nil)

// poolSize is how many connections one DB keeps open at most.
const poolSize = 8

// dialect is PostgreSQL's for a store whose audit lock is auditKey: rows are locked one by
// one, so reads that precede a change lock what they read, and appenders to the audit log
// take the store's advisory lock until their transaction ends.
func dialect(auditKey int64) sqlstore.Dialect {
	return sqlstore.Dialect{
		Order: "n",
		Approvals: `(SELECT coalesce(json_agg(json_build_array(a.principal, a.at) ORDER BY a.at, a.n), '[]'::json)::text
			FROM approvals a WHERE a.promotion = promotions.id)`,
		ForUpdate:  " FOR UPDATE",
		Bytewise:   ` COLLATE "C"`,
		SkipLocked: " FOR UPDATE SKIP LOCKED",
		// The key is a number this package computes, never a value from outside.
		AuditLock: "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(auditKey, 10) + ")",
		// The head this process appended last, read again only when another process's
		// append makes the INSERT fail: a round trip saved on most writes.
		TrustHead:    true,
		Aborts:       true,
		IsUnique:     isUnique,
		IsForeignKey: isForeignKey,
	}
}

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
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse errors show the connection string with its password masked.
		return nil, &strata.Error{Code: strata.EINVALID, Message: "open PostgreSQL store", Err: err}
	}
	cfg.MaxConns = poolSize
	cfg.MinConns = 0
	db := &DB{name: Name(cfg.ConnConfig), searchPath: cfg.ConnConfig.RuntimeParams["search_path"], now: now}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", db.name, err)
	}
	db.b = &backend{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		if _, ok := err.(*strata.Error); ok {
			return nil, err
		}
		return nil, fmt.Errorf("open store %s: %w", db.name, err)
	}
	db.channel = queueChannel(db.schema)
	db.connConfig = cfg.ConnConfig
	db.DB = sqlstore.New(db.b, dialect(lockKey(db.schema, "audit")), now)
	if db.head != nil {
		db.DB.KnowHead(*db.head)
	}
	return db, nil
}

// Name returns how messages name the store of cfg: its URL without the password.
func Name(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Close releases the store's connections, waiting for those in use to be given back.
func (db *DB) Close() error {
	db.b.pool.Close()
	return nil
}

// String returns the store's URL without its password.
func (db *DB) String() string { return db.name }
