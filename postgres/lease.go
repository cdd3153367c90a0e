package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// ReclaimLapsed takes over, for to, up to limit active deployments whose lease ended before
// now (oldest lease first), marking each interrupted with a lease until until, as TakeOver
// does, and auditing each with event(d) when event is not nil. It is how agents on many
// machines share out the deployments of owners that stopped renewing: the rows are claimed
// FOR UPDATE SKIP LOCKED, so reclaimers running at once each take different deployments
// rather than queueing on the same ones. Deployments to already owns are left alone.
//
// It returns the deployments taken as they were before, so that the caller knows each
// previous owner and process group (to stop what is left of them) and resumes each as its
// next attempt. EINVALID when to has no host.
func (db *DB) ReclaimLapsed(ctx context.Context, to strata.Owner, now, until time.Time, limit int,
	event func(d *strata.Deployment) *strata.Event) ([]*strata.Deployment, error) {
	if to.ID() == "" {
		return nil, strata.Errorf(strata.EINVALID, "reclaim lapsed deployments: the new owner has no host")
	}
	if limit <= 0 {
		limit = 100
	}
	var taken []*strata.Deployment
	err := db.tx(ctx, func(tx pgx.Tx) error {
		taken = nil
		rows, err := tx.Query(ctx, `SELECT `+deploymentColumns+` FROM deployments
			WHERE state IN `+activeStates+` AND lease_until < $1 AND owner_id <> $2
			ORDER BY lease_until, n LIMIT $3 FOR UPDATE SKIP LOCKED`, sqlrow.Nanos(now), to.ID(), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			d, err := scanDeployment(rows)
			if err != nil {
				rows.Close()
				return err
			}
			taken = append(taken, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range taken {
			_, err := tx.Exec(ctx, `UPDATE deployments SET state = 'interrupted', owner_id = $1, owner_host = $2,
				owner_pid = $3, owner_start = $4, pgid = 0, lease_until = $5 WHERE id = $6`,
				to.ID(), to.Host, to.PID, to.Start, sqlrow.Nanos(until), d.ID)
			if err != nil {
				return err
			}
			if event != nil {
				if err := db.audit(ctx, tx, event(d), d.ID, d.Service, d.Environment); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, sqlrow.Wrap(err, "reclaim lapsed deployments")
	}
	return taken, nil
}
