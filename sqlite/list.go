package sqlite

import (
	"context"
	"fmt"
	"strings"
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

// list runs q on the read connections and scans every row it returns with scan; op names
// the listing in errors ("list deployments").
func list[T any](ctx context.Context, db *DB, op, q string, args []any, scan func(scanner) (*T, error)) ([]*T, error) {
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}
