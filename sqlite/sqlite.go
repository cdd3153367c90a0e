// Package sqlite is the Store on SQLite: Strata's embedded default, one file in WAL mode that
// many CLI processes open at once.
//
// The records are written and read by the SQL core every store shares (internal/sqlstore);
// this package opens the file, applies its migrations and gives the core SQLite's words.
// Writes go through one connection per process and BEGIN IMMEDIATE transactions, so writers
// inside a process share a transaction (the core's group commit) and writers in other
// processes queue on SQLite's lock (busy_timeout), rather than failing. Reads use a
// separate pool and see every committed write. Exclusive claims (one active deployment per
// service and environment, one open promotion per service, version and stage) are partial
// unique indexes that the claiming INSERT meets.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/bundledir"
	"github.com/strata-dev/strata/internal/sqlstore"
)

// DB is a Strata store kept in one SQLite file. It is safe for concurrent use, and several
// DBs (in one process or many) may share the same file. Its records are written and read by
// the SQL core (sqlstore) every store shares; this package opens the file and speaks SQLite.
type DB struct {
	*sqlstore.DB
	// Dir keeps releases' bundles as files beside the database, where they always were
	// (DIR/.strata/artifacts, recipes and bundles for the default store).
	*bundledir.Dir
	path string
	b    *backend
}

var _ strata.Store = (*DB)(nil)

// dialect is SQLite's: one writer holds the whole file, so rows need no locks, the audit log
// needs no lock of its own and the head this process appended last can be trusted; a
// statement that fails leaves its transaction usable.
var dialect = sqlstore.Dialect{
	Order: "rowid",
	Approvals: `(SELECT json_group_array(json_array(principal, at)) FROM
		(SELECT principal, at FROM approvals WHERE promotion = promotions.id ORDER BY at, rowid))`,
	// Without statistics the planner would rather walk the history in order.
	ActiveIndex:  " INDEXED BY deployments_claim",
	TrustHead:    true,
	IsUnique:     isUnique,
	IsForeignKey: isForeignKey,
}

// Open opens (creating when absent, with its directory) the store at path, applies embedded
// migrations each in its own transaction, and returns it. Now is the clock (time.Now when nil).
//
// A file that is not a Strata store, or one written by a newer Strata, is refused with an
// EINVALID *strata.Error and left byte-for-byte untouched.
func Open(path string, now func() time.Time) (*DB, error) {
	if now == nil {
		now = time.Now
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	version, err := check(path, abs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	b := &backend{stmts: map[string]*sql.Stmt{}, want: map[string]bool{}}
	// wal_autocheckpoint: SQLite copies the log back into the file (a checkpoint, with two
	// fsyncs) from inside the commit that makes the log longer than this many pages, while
	// holding the only write connection, so every writer of the process waits for the disk.
	// At the default 1,000 pages a promotion through 200 environments did that three times,
	// and the disk's latency became most of the variance of its wall time; at 10,000 (a
	// log of up to 40 MiB) it happens once per few thousand deployments, and at close.
	b.write, err = sql.Open("sqlite", dsn(abs, "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=wal_autocheckpoint(10000)&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	b.write.SetMaxOpenConns(1)
	b.write.SetMaxIdleConns(1)
	b.write.SetConnMaxLifetime(0)
	b.write.SetConnMaxIdleTime(0)
	// A store at this binary's schema needs no migration: the loop below would take the
	// write lock once per migration only to find each applied, on every command.
	if version < strata.SchemaVersion {
		if err := retryBusy(func() error { return migrate(context.Background(), b.write, path, now) }); err != nil {
			b.write.Close()
			return nil, err
		}
	}

	b.read, err = sql.Open("sqlite", dsn(abs, "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"))
	if err != nil {
		b.write.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	b.read.SetMaxOpenConns(n)
	b.read.SetMaxIdleConns(n)
	db := &DB{DB: sqlstore.New(b, dialect, now), Dir: bundledir.New(filepath.Dir(abs), now), path: path, b: b}
	if err := retryBusy(b.read.Ping); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

// Close releases the store's connections.
func (db *DB) Close() error {
	var errs []error
	db.b.closeStmts()
	errs = append(errs, db.b.read.Close(), db.b.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", db.path, err)
	}
	return nil
}

// Path returns the path the store was opened with.
func (db *DB) Path() string { return db.path }

// retryBusy runs fn again while it fails with SQLITE_BUSY, for up to about ten seconds.
// SQLite waits out (busy_timeout) most locks by itself, but not every one it meets while
// processes open a new file at once: one switching it to WAL mode while another reads it
// gets SQLITE_BUSY at once.
func retryBusy(fn func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	wait := time.Millisecond
	for {
		err := fn()
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// dsn returns the driver's name for the file at abs with query parameters. The path is
// escaped so that '?', '#' and '%' in a directory name stay part of the name.
func dsn(abs, query string) string {
	u := url.URL{Path: filepath.ToSlash(abs)}
	return "file:" + u.EscapedPath() + "?" + query
}
