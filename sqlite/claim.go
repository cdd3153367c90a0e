package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// ClaimPromotion moves a waiting promotion to running, owned by owner with a lease until
// until, only if it is still waiting, in one UPDATE ... WHERE state = 'waiting': of several
// servers whose schedulers found its gates open at once, one runs it. ECONFLICT when it is
// no longer waiting; ENOTFOUND when there is no such promotion.
func (db *DB) ClaimPromotion(ctx context.Context, id string, owner strata.Owner, until time.Time, e *strata.Event) error {
	updated := db.clock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var service string
		err := db.queryRow(ctx, tx, `UPDATE promotions SET state = ?, updated_at = ?, owner_id = ?, owner_host = ?,
			owner_pid = ?, owner_start = ?, lease_until = ? WHERE id = ? AND state = ? RETURNING service`,
			strata.Running, sqlrow.Nanos(updated), owner.ID(), owner.Host, owner.PID, owner.Start, sqlrow.Nanos(until),
			id, strata.Waiting).Scan(&service)
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

// RenewPromotionLease extends a running promotion's lease to until. ECONFLICT when owner no
// longer holds it (or it is not running); ENOTFOUND when there is no such promotion.
func (db *DB) RenewPromotionLease(ctx context.Context, id string, owner strata.Owner, until time.Time) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := db.exec(ctx, tx, `UPDATE promotions SET lease_until = ?
			WHERE id = ? AND owner_id = ? AND owner_id <> '' AND state = 'running'`,
			sqlrow.Nanos(until), id, owner.ID())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return db.promotionLost(ctx, tx, id, owner)
	})
	return sqlrow.Wrap(err, "renew lease of promotion %s", id)
}

// TakeOverPromotion makes to the owner of a running promotion whose current owner is from
// (compare and set), with a lease until until. ECONFLICT when someone else took it first or
// it is no longer running; EINVALID when to has no host; ENOTFOUND when there is none.
func (db *DB) TakeOverPromotion(ctx context.Context, id string, from, to strata.Owner, until time.Time, e *strata.Event) error {
	if to.ID() == "" {
		return strata.Errorf(strata.EINVALID, "take over promotion %s: the new owner has no host", id)
	}
	updated := db.clock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var service string
		err := db.queryRow(ctx, tx, `UPDATE promotions SET owner_id = ?, owner_host = ?, owner_pid = ?, owner_start = ?,
			lease_until = ?, updated_at = ? WHERE id = ? AND owner_id = ? AND state = 'running' RETURNING service`,
			to.ID(), to.Host, to.PID, to.Start, sqlrow.Nanos(until), sqlrow.Nanos(updated), id, from.ID()).Scan(&service)
		if errors.Is(err, sql.ErrNoRows) {
			return db.promotionLost(ctx, tx, id, from)
		}
		if err != nil {
			return err
		}
		return db.audit(ctx, tx, e, id, service, "")
	})
	return sqlrow.Wrap(err, "take over promotion %s", id)
}

// promotionLost explains why a write by owner to promotion id matched no row: ENOTFOUND, or
// ECONFLICT naming who holds it now.
func (db *DB) promotionLost(ctx context.Context, tx *sql.Tx, id string, owner strata.Owner) error {
	var state, holder string
	err := db.queryRow(ctx, tx, `SELECT state, owner_id FROM promotions WHERE id = ?`, id).Scan(&state, &holder)
	if errors.Is(err, sql.ErrNoRows) {
		return strata.Errorf(strata.ENOTFOUND, "no promotion %s", id)
	}
	if err != nil {
		return err
	}
	return sqlrow.PromotionLost(id, state, holder, owner)
}
