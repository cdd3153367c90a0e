package sqlite

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/strata-dev/strata/internal/sqlrow"
)

// now returns the store's clock in UTC, rounded to what nanos keeps.
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

// outputsFromJSON decodes an outputs column.
func outputsFromJSON(s *string) (map[string]string, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	var m map[string]string
	err := json.Unmarshal([]byte(*s), &m)
	return m, err
}

// isUnique reports whether err is a UNIQUE (or primary key) constraint failure.
func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isBusy reports whether err is SQLITE_BUSY (of any kind).
func isBusy(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return false
}

// isForeignKey reports whether err is a foreign key constraint failure.
func isForeignKey(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
