package postgres

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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

// clock returns the store's clock in UTC, rounded to what nanos keeps.
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

// toJSON encodes m for a JSON text column; an empty map is stored as NULL.
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

// fromJSON decodes a nullable JSON text column into v; NULL leaves v as it is.
func fromJSON(s *string, v any) error {
	if s == nil || *s == "" {
		return nil
	}
	return json.Unmarshal([]byte(*s), v)
}

// rawJSON returns b as stored event detail: nil when empty.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(bytes.Clone(b))
}

// pgError returns err's PostgreSQL error, nil when it is none.
func pgError(err error) *pgconn.PgError {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// isUnique reports whether err violates a unique index or constraint; with names, only one
// of those.
func isUnique(err error, names ...string) bool {
	e := pgError(err)
	if e == nil || e.Code != "23505" {
		return false
	}
	return len(names) == 0 || slices.Contains(names, e.ConstraintName)
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool {
	e := pgError(err)
	return e != nil && e.Code == "23503"
}

// conds collects the conditions of a list query and the arguments they bind ($1, $2, ...),
// so that every listing turns its filter into SQL the same way.
type conds struct {
	where []string
	args  []any
}

// arg binds v and returns its placeholder.
func (c *conds) arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

// equal adds "col = v" when v is set; an empty filter field selects everything.
func (c *conds) equal(col, v string) {
	if v != "" {
		c.where = append(c.where, col+" = "+c.arg(v))
	}
}

// in adds "col = ANY(vs)" when vs is not empty.
func (c *conds) in(col string, vs []string) {
	if len(vs) > 0 {
		c.where = append(c.where, col+" = ANY("+c.arg(vs)+")")
	}
}

// clause returns " WHERE " and the conditions joined by AND, or "" when there are none.
func (c *conds) clause() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

// limit returns " LIMIT $n" when n > 0.
func (c *conds) limit(n int) string {
	if n <= 0 {
		return ""
	}
	return " LIMIT " + c.arg(n)
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
