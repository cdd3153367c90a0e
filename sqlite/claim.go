package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// ClaimPromotion moves a waiting promotion to running only if it is still waiting, in one
// UPDATE ... WHERE state = 'waiting': of several servers whose schedulers found its gates
// open at once, one runs it. ECONFLICT when it is no longer waiting; ENOTFOUND when there is
// no such promotion.
func (db *DB) ClaimPromotion(ctx context.Context, id string, e *strata.Event) error {
	updated := db.clock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var service string
		err := db.queryRow(ctx, tx, `UPDATE promotions SET state = ?, updated_at = ? WHERE id = ? AND state = ?
			RETURNING service`, strata.Running, sqlrow.Nanos(updated), id, strata.Waiting).Scan(&service)
		if errors.Is(err, sql.ErrNoRows) {
			var state string
			err := db.queryRow(ctx, tx, `SELECT state FROM promotions WHERE id = ?`, id).Scan(&state)
			if errors.Is(err, sql.ErrNoRows) {
				return strata.Errorf(strata.ENOTFOUND, "no promotion %s", id)
			}
			if err != nil {
				return err
			}
			return strata.Errorf(strata.ECONFLICT, "promotion %s is %s, not waiting: another worker started it", id, state)
		}
		if err != nil {
			return err
		}
		return db.audit(ctx, tx, e, id, service, "")
	})
	return sqlrow.Wrap(err, "claim promotion %s", id)
}
