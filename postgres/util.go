package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgError returns err's PostgreSQL error, nil when it is none.
func pgError(err error) *pgconn.PgError {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// isUnique reports whether err violates a unique index or constraint.
func isUnique(err error) bool {
	e := pgError(err)
	return e != nil && e.Code == "23505"
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool {
	e := pgError(err)
	return e != nil && e.Code == "23503"
}

// isDivisionByZero reports whether err is a division by zero: how a statement sent by
// backend.one says it changed other than one row.
func isDivisionByZero(err error) bool {
	e := pgError(err)
	return e != nil && e.Code == "22012"
}
