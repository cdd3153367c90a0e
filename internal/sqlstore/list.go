package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/telemetry"
	"go.opentelemetry.io/otel/trace"
)

// conds collects the conditions of a list query and the arguments they bind, so that every
// listing turns its filter into SQL the same way.
type conds struct {
	where []string
	args  []any
}

// equal adds "col = v" when v is set; an empty filter field selects everything.
func (c *conds) equal(col, v string) {
	if v != "" {
		c.where = append(c.where, col+" = ?")
		c.args = append(c.args, v)
	}
}

// in adds "col IN (vs...)" when vs is not empty.
func (c *conds) in(col string, vs []string) {
	if len(vs) == 0 {
		return
	}
	c.where = append(c.where, col+" IN ("+placeholders(len(vs))+")")
	for _, v := range vs {
		c.args = append(c.args, v)
	}
}

// clause returns " WHERE " and the conditions joined by AND, or "" when there are none.
func (c *conds) clause() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

// limit returns " LIMIT ?", binding n, when n > 0.
func (c *conds) limit(n int) string {
	if n <= 0 {
		return ""
	}
	c.args = append(c.args, n)
	return " LIMIT ?"
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// scanner is a Row or Rows.
type scanner interface{ Scan(dest ...any) error }

// list runs q outside any transaction and scans every row it returns with scan; op names the
// listing in errors ("list deployments").
func list[T any](ctx context.Context, db *DB, op, q string, args []any, scan func(scanner) (*T, error)) (_ []*T, err error) {
	if trace.SpanFromContext(ctx).IsRecording() {
		var span trace.Span
		ctx, span = telemetry.Start(ctx, "store "+op)
		defer func() { telemetry.End(span, err) }()
	}
	var out []*T
	err = each(ctx, db.b.Read(), q, args, func(s scanner) error {
		v, err := scan(s)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// each runs q on qr and calls fn for every row, never holding more than one.
func each(ctx context.Context, qr Querier, q string, args []any, fn func(scanner) error) error {
	rows, err := qr.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// byID reads the record of kind ("deployment") called id with q, whose one argument is
// the id: ENOTFOUND naming it when there is none.
func byID[T any](ctx context.Context, db *DB, kind, id, q string, scan func(scanner) (*T, error)) (*T, error) {
	v, err := one(ctx, db, q, []any{id}, scan)
	if noRows(err) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no %s %s", kind, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	return v, nil
}

// one runs q outside any transaction for one row and scans it with scan; an error that is
// sql.ErrNoRows when there is none.
func one[T any](ctx context.Context, db *DB, q string, args []any, scan func(scanner) (*T, error)) (*T, error) {
	return scan(db.b.Read().QueryRow(ctx, q, args...))
}
