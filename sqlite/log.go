package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// AppendLog stores a chunk of a deployment's (redacted) step output; the store numbers it
// (LogChunk.Seq) and stamps it with its clock when c.At is zero. ENOTFOUND when there is no
// such deployment.
func (db *DB) AppendLog(ctx context.Context, id string, c strata.LogChunk) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := db.exec(ctx, tx, `INSERT INTO logs (deployment, attempt, step, at, data) VALUES (?, ?, ?, ?, ?)`,
			id, c.Attempt, c.Step, sqlrow.Nanos(db.orNow(c.At)), c.Data)
		if isForeignKey(err) {
			return strata.Errorf(strata.ENOTFOUND, "no deployment %s", id)
		}
		return err
	})
	return sqlrow.Wrap(err, "append log of deployment %s", id)
}

// Logs returns a deployment's chunks with Seq greater than after, in order. A deployment
// with no output (or none) has no chunks.
func (db *DB) Logs(ctx context.Context, id string, after int64) ([]strata.LogChunk, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq, attempt, step, at, data FROM logs
		WHERE deployment = ? AND seq > ? ORDER BY seq`, id, after)
	if err != nil {
		return nil, fmt.Errorf("logs of deployment %s: %w", id, err)
	}
	defer rows.Close()
	var out []strata.LogChunk
	for rows.Next() {
		var c strata.LogChunk
		var at int64
		if err := rows.Scan(&c.Seq, &c.Attempt, &c.Step, &at, &c.Data); err != nil {
			return nil, fmt.Errorf("logs of deployment %s: %w", id, err)
		}
		c.At = sqlrow.FromNanos(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("logs of deployment %s: %w", id, err)
	}
	return out, nil
}
