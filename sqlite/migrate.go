package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
	"github.com/strata-dev/strata/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// header is the first 16 bytes of every SQLite database file.
const header = "SQLite format 3\x00"

// check refuses, before anything writes to it, a file that is not a Strata store or that a
// newer Strata wrote, and returns the schema version of one it accepts (0 for a new store:
// an absent or empty file). It reads the header itself and the schema through a read-only
// connection, so a refused file is left as it was.
func check(name, abs string) (int, error) {
	f, err := os.Open(abs)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open store %s: %w", name, err)
	}
	buf := make([]byte, len(header))
	n, err := io.ReadFull(f, buf)
	f.Close()
	if n == 0 && (err == io.EOF || err == nil) {
		return 0, nil
	}
	if !bytes.Equal(buf[:n], []byte(header)) {
		return 0, notStore(name)
	}

	// A file without a write-ahead log holds everything in itself: read it as immutable, so
	// that not even the -shm and -wal files a WAL database needs appear beside it. With a
	// log present (the store is open elsewhere), read it read-only through that log.
	query := "mode=ro&immutable=1"
	if _, err := os.Stat(abs + "-wal"); err == nil {
		query = "mode=ro&_pragma=busy_timeout(10000)"
	}
	ro, err := sql.Open("sqlite", dsn(abs, query))
	if err != nil {
		return 0, fmt.Errorf("open store %s: %w", name, err)
	}
	defer ro.Close()
	ro.SetMaxOpenConns(1)
	var tables, marker, versions int
	err = ro.QueryRow(`SELECT
		count(*),
		count(*) FILTER (WHERE name = 'strata_store'),
		count(*) FILTER (WHERE name = 'schema_version')
		FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).Scan(&tables, &marker, &versions)
	if err != nil {
		return 0, &strata.Error{Code: strata.EINVALID, Message: fmt.Sprintf("%s is not a Strata store", name), Err: err}
	}
	if tables == 0 {
		return 0, nil
	}
	if marker == 0 || versions == 0 {
		return 0, notStore(name)
	}
	var v, applied int
	if err := ro.QueryRow(`SELECT coalesce(max(version), 0), count(*) FROM schema_version`).Scan(&v, &applied); err != nil {
		return 0, fmt.Errorf("open store %s: read schema version: %w", name, err)
	}
	if v > strata.SchemaVersion {
		return 0, newer(name, v)
	}
	if known, err := knownMigrations(); err != nil || applied < known {
		// A migration that landed below the newest one applied is missing: it reads as
		// an older store, and migrate applies what is not recorded.
		return min(v, strata.SchemaVersion-1), err
	}
	return v, nil
}

func notStore(name string) error {
	return strata.Errorf(strata.EINVALID, "%s is not a Strata store", name)
}

func newer(name string, v int) error {
	return strata.Errorf(strata.EINVALID, "%s was written by a newer Strata (schema %d, this binary reads up to %d); upgrade strata",
		name, v, strata.SchemaVersion)
}

// migrate applies every migration the store lacks, each in its own transaction that also
// records it in schema_version. Processes that open a new store at once queue on the write
// lock; each re-reads the version inside its transaction, so a migration runs only once.
func migrate(ctx context.Context, write *sql.DB, path string, now func() time.Time) error {
	ms, err := sqlstore.Migrations(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	for _, m := range ms {
		if m.Version > strata.SchemaVersion {
			break
		}
		err := inTx(ctx, write, func(tx *sql.Tx) error {
			v, err := schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if v > strata.SchemaVersion {
				return newer(path, v)
			}
			if v >= m.Version {
				// A migration numbered below one the store holds is applied all the same
				// when it is not recorded: migrations written side by side land in any
				// order, and a store migrated in between must not miss the lower one.
				var have bool
				err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_version WHERE version = ?)`, m.Version).Scan(&have)
				if err != nil || have {
					return err
				}
			}
			if v == 0 {
				// Another program may have made the file its own since check looked.
				var tables int
				err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).Scan(&tables)
				if err != nil {
					return err
				}
				if tables > 0 {
					return notStore(path)
				}
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
				m.Version, sqlrow.Nanos(now()))
			return err
		})
		if err != nil {
			if strata.ErrorCode(err) == strata.EINVALID {
				return err
			}
			return fmt.Errorf("open store %s: %w", path, err)
		}
	}
	return nil
}

// schemaVersion returns the newest migration applied, 0 for a new file.
func schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'`).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v int
	err = tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// inTx runs fn in a transaction of db and commits when fn returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// knownMigrations counts the migrations this binary applies.
func knownMigrations() (int, error) {
	ms, err := sqlstore.Migrations(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		if m.Version <= strata.SchemaVersion {
			n++
		}
	}
	return n, nil
}
