package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
)

// TallyDeployments counts every deployment by state, and the finished ones by how long
// they took against bounds (seconds, ascending), in two statements that return counts: the
// database reads the history, this process holds a row per state.
func (db *DB) TallyDeployments(ctx context.Context, bounds []float64) (*strata.DeploymentTally, error) {
	if !slices.IsSorted(bounds) {
		return nil, strata.Errorf(strata.EINVALID, "tally deployments: the bounds %v are not in ascending order", bounds)
	}
	t := &strata.DeploymentTally{ByState: map[string]int{}, Took: make([]int, len(bounds))}
	err := each(ctx, db.b.Read(), `SELECT state, count(*) FROM deployments GROUP BY state`, nil, func(s scanner) error {
		var state string
		var n int
		if err := s.Scan(&state, &n); err != nil {
			return err
		}
		t.ByState[state] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tally deployments: %w", err)
	}
	// Cumulative counts, one per bound: a deployment is counted by every bound it is under.
	var q strings.Builder
	q.WriteString(`SELECT count(*), CAST(coalesce(sum(finished_at - started_at), 0) AS BIGINT)`)
	args := make([]any, 0, len(bounds))
	for _, b := range bounds {
		q.WriteString(`, coalesce(sum(CASE WHEN finished_at - started_at <= ? THEN 1 ELSE 0 END), 0)`)
		args = append(args, int64(b*float64(time.Second)))
	}
	q.WriteString(` FROM deployments WHERE finished_at <> 0 AND started_at <> 0`)
	var nanos int64
	cum := make([]int64, len(bounds))
	dest := []any{&t.Finished, &nanos}
	for i := range cum {
		dest = append(dest, &cum[i])
	}
	if err := db.b.Read().QueryRow(ctx, q.String(), args...).Scan(dest...); err != nil {
		return nil, fmt.Errorf("tally deployments: %w", err)
	}
	t.Seconds = time.Duration(nanos).Seconds()
	for i := range cum {
		t.Took[i] = int(cum[i])
		if i > 0 {
			t.Took[i] -= int(cum[i-1])
		}
	}
	return t, nil
}
