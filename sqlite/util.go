package sqlite

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/strata-dev/strata"
)

// newID returns prefix followed by 10 random lowercase hex characters.
func newID(prefix string) string {
	var b [5]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// nanos returns t as unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// now returns the store's clock in UTC, rounded to what nanos keeps.
func (db *DB) clock() time.Time {
	return fromNanos(db.now().UnixNano())
}

// orNow returns t in UTC, or the store's clock when t is zero.
func (db *DB) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return db.clock()
	}
	return fromNanos(t.UnixNano())
}

// toJSON encodes v for a JSON text column; an empty map is stored as NULL.
func toJSON[M ~map[K]V, K comparable, V any](m M) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// configFromJSON decodes a config column. Whole numbers come back as int64 and others as
// float64, as the configuration layer types them.
func configFromJSON(s *string) (map[string]any, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	d := json.NewDecoder(strings.NewReader(*s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	for k, v := range m {
		m[k] = numbers(v)
	}
	return m, nil
}

// numbers replaces json.Number values in v by int64 or float64.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	}
	return v
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

// rawJSON returns b as stored event detail: nil when empty.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(bytes.Clone(b))
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

// wrap adds the operation to an internal error; a *strata.Error is already fit for the
// user and is returned as it is.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*strata.Error); ok {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
