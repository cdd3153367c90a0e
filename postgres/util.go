package postgres

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/strata-dev/strata/internal/sqlrow"
)

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

// fromJSON decodes a nullable JSON text column into v; NULL leaves v as it is.
func fromJSON(s *string, v any) error {
	if s == nil || *s == "" {
		return nil
	}
	return json.Unmarshal([]byte(*s), v)
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
