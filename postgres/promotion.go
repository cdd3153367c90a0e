package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// promotionColumns reads a promotion and, in the same statement, its approvals in the order
// they were given.
const promotionColumns = `id, service, version, stage, state, requester, override, reason, error, created_at, updated_at,
	owner_host, owner_pid, owner_start, lease_until, (SELECT coalesce(json_agg(json_build_array(a.principal, a.at) ORDER BY a.at, a.n), '[]'::json)::text
		FROM approvals a WHERE a.promotion = promotions.id)`

// openStates is the SQL list of promotion states that are still open.
const openStates = `('waiting', 'running')`

// errOpen says an insert or update lost to another open promotion of the same release and
// stage; the caller reads that one once the failed transaction has ended.
var errOpen = errors.New("another promotion is open")

// promotionState reports whether s is a promotion state.
func promotionState(s string) bool {
	switch s {
	case strata.Waiting, strata.Running, strata.Succeeded, strata.Failed, strata.Rejected:
		return true
	}
	return false
}

// CreatePromotion records p (state waiting when empty) and its approvals, giving it an ID
// ("p-...") and times; a running p is recorded with its owner and lease. When an open (waiting or running) promotion of the same service,
// version and stage exists, it fills p with that one and returns ECONFLICT; of concurrent
// creators, one inserts and the others wait for it, then read it.
func (db *DB) CreatePromotion(ctx context.Context, p *strata.Promotion, e *strata.Event) error {
	if p.Service == "" || p.Version == "" || p.Stage == "" {
		return strata.Errorf(strata.EINVALID, "a promotion needs a service, a version and a stage")
	}
	if p.State == "" {
		p.State = strata.Waiting
	}
	if !promotionState(p.State) {
		return strata.Errorf(strata.EINVALID, "unknown promotion state %q", p.State)
	}
	n := *p
	if n.ID == "" {
		n.ID = sqlrow.NewID("p-")
	}
	n.CreatedAt = db.orNow(n.CreatedAt)
	n.UpdatedAt = n.CreatedAt
	n.Owner, n.LeaseUntil = sqlrow.PromotionOwner(&n)
	n.Approvals = append([]strata.Approval(nil), n.Approvals...)
	for i := range n.Approvals {
		n.Approvals[i].At = db.orNow(n.Approvals[i].At)
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if open, err := openPromotion(ctx, tx, n.Service, n.Version, n.Stage); err != nil || open != nil {
			if err != nil {
				return err
			}
			return conflict(p, open)
		}
		_, err := tx.Exec(ctx, `INSERT INTO promotions (id, service, version, stage, state, requester, override,
			reason, error, created_at, updated_at, owner_id, owner_host, owner_pid, owner_start, lease_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			n.ID, n.Service, n.Version, n.Stage, n.State, n.Requester, n.Override, n.Reason, n.Error,
			sqlrow.Nanos(n.CreatedAt), sqlrow.Nanos(n.UpdatedAt),
			n.Owner.ID(), n.Owner.Host, n.Owner.PID, n.Owner.Start, sqlrow.Nanos(n.LeaseUntil))
		if isUnique(err, "promotions_pkey") {
			return strata.Errorf(strata.ECONFLICT, "promotion %s exists already", n.ID)
		}
		if isUnique(err) {
			return errOpen
		}
		if err != nil {
			return err
		}
		for _, a := range n.Approvals {
			_, err := tx.Exec(ctx, `INSERT INTO approvals (promotion, principal, at) VALUES ($1, $2, $3)`,
				n.ID, a.Principal, sqlrow.Nanos(a.At))
			if isUnique(err) {
				return strata.Errorf(strata.EINVALID, "promotion %s: %s approves it twice", n.ID, a.Principal)
			}
			if err != nil {
				return err
			}
		}
		return db.audit(ctx, tx, e, n.ID, n.Service, "")
	})
	if errors.Is(err, errOpen) {
		err = db.withConn(ctx, func(c *pgx.Conn) error {
			open, err := openPromotion(ctx, c, n.Service, n.Version, n.Stage)
			if err != nil {
				return err
			}
			if open == nil {
				// It closed between our failed insert and this look: still, we lost the race.
				return strata.Errorf(strata.ECONFLICT, "a promotion of %s@%s to %s is open already", n.Service, n.Version, n.Stage)
			}
			return conflict(p, open)
		})
	}
	if err != nil {
		return sqlrow.Wrap(err, "create promotion of %s@%s to %s", p.Service, p.Version, p.Stage)
	}
	*p = n
	return nil
}

// conflict fills p with the open promotion that holds its release and stage and returns
// ECONFLICT naming it.
func conflict(p, open *strata.Promotion) error {
	*p = *open
	return strata.Errorf(strata.ECONFLICT, "promotion %s of %s@%s to %s is open already (%s)",
		open.ID, open.Service, open.Version, open.Stage, open.State)
}

// openPromotion returns the open promotion of (service, version, stage), nil when none is.
func openPromotion(ctx context.Context, q querier, service, version, stage string) (*strata.Promotion, error) {
	p, err := scanPromotion(q.QueryRow(ctx, `SELECT `+promotionColumns+` FROM promotions
		WHERE service = $1 AND version = $2 AND stage = $3 AND state IN `+openStates+` LIMIT 1`, service, version, stage))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

// UpdatePromotion writes p's state, override, reason and error, and sets UpdatedAt; its
// owner and lease stay while it is running and are cleared otherwise. ENOTFOUND when there
// is no such promotion; ECONFLICT when the stored promotion is running under another owner
// than p.Owner (p's runner lost it), or when reopening it would make two open promotions of
// one release to one stage.
func (db *DB) UpdatePromotion(ctx context.Context, p *strata.Promotion, e *strata.Event) error {
	if !promotionState(p.State) {
		return strata.Errorf(strata.EINVALID, "unknown promotion state %q", p.State)
	}
	updated := db.clock()
	owner, until := sqlrow.PromotionOwner(p)
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var service string
		err := tx.QueryRow(ctx, `UPDATE promotions SET state = $1, override = $2, reason = $3, error = $4, updated_at = $5,
			owner_id = $6, owner_host = $7, owner_pid = $8, owner_start = $9, lease_until = $10
			WHERE id = $11 AND (state <> 'running' OR owner_id = $12) RETURNING service`,
			p.State, p.Override, p.Reason, p.Error, sqlrow.Nanos(updated),
			owner.ID(), owner.Host, owner.PID, owner.Start, sqlrow.Nanos(until), p.ID, p.Owner.ID()).Scan(&service)
		if errors.Is(err, pgx.ErrNoRows) {
			return promotionLost(ctx, tx, p.ID, p.Owner)
		}
		if isUnique(err) {
			return strata.Errorf(strata.ECONFLICT, "another promotion of %s@%s to %s is open", p.Service, p.Version, p.Stage)
		}
		if err != nil {
			return err
		}
		return db.audit(ctx, tx, e, p.ID, service, "")
	})
	if err != nil {
		return sqlrow.Wrap(err, "update promotion %s", p.ID)
	}
	p.UpdatedAt = updated
	p.Owner, p.LeaseUntil = owner, until
	return nil
}

// Approve adds principal's approval to a waiting promotion (a.At is the clock when zero).
// ECONFLICT when that principal has approved it already or it is not waiting; ENOTFOUND
// when there is no such promotion. The promotion's row stays locked until the approval is
// committed, so it cannot start or end meanwhile.
func (db *DB) Approve(ctx context.Context, id string, a strata.Approval, e *strata.Event) error {
	if a.Principal == "" {
		return strata.Errorf(strata.EINVALID, "approve promotion %s: no principal", id)
	}
	a.At = db.orNow(a.At)
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var state, service string
		err := tx.QueryRow(ctx, `SELECT state, service FROM promotions WHERE id = $1 FOR UPDATE`, id).Scan(&state, &service)
		if errors.Is(err, pgx.ErrNoRows) {
			return strata.Errorf(strata.ENOTFOUND, "no promotion %s", id)
		}
		if err != nil {
			return err
		}
		if state != strata.Waiting {
			return strata.Errorf(strata.ECONFLICT, "promotion %s is %s, not waiting for approval", id, state)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO approvals (promotion, principal, at) VALUES ($1, $2, $3)
			ON CONFLICT (promotion, principal) DO NOTHING`, id, a.Principal, sqlrow.Nanos(a.At))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return strata.Errorf(strata.ECONFLICT, "%s has approved promotion %s already", a.Principal, id)
		}
		if _, err := tx.Exec(ctx, `UPDATE promotions SET updated_at = $1 WHERE id = $2`, sqlrow.Nanos(a.At), id); err != nil {
			return err
		}
		return db.audit(ctx, tx, e, id, service, "")
	})
	return sqlrow.Wrap(err, "approve promotion %s", id)
}

// ClaimPromotion moves a waiting promotion to running, owned by owner with a lease until
// until, only if it is still waiting, in one UPDATE ... WHERE state = 'waiting': of several
// servers whose schedulers found its gates open at once, one runs it (the others' UPDATE
// re-reads the row after waiting and no longer matches). ECONFLICT when it is no longer
// waiting; ENOTFOUND when there is no such promotion.
func (db *DB) ClaimPromotion(ctx context.Context, id string, owner strata.Owner, until time.Time, e *strata.Event) error {
	updated := db.clock()
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var service string
		err := tx.QueryRow(ctx, `UPDATE promotions SET state = $1, updated_at = $2, owner_id = $3, owner_host = $4,
			owner_pid = $5, owner_start = $6, lease_until = $7 WHERE id = $8 AND state = $9 RETURNING service`,
			strata.Running, sqlrow.Nanos(updated), owner.ID(), owner.Host, owner.PID, owner.Start, sqlrow.Nanos(until),
			id, strata.Waiting).Scan(&service)
		if errors.Is(err, pgx.ErrNoRows) {
			var state string
			err := tx.QueryRow(ctx, `SELECT state FROM promotions WHERE id = $1`, id).Scan(&state)
			if errors.Is(err, pgx.ErrNoRows) {
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
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE promotions SET lease_until = $1
			WHERE id = $2 AND owner_id = $3 AND owner_id <> '' AND state = 'running'`,
			sqlrow.Nanos(until), id, owner.ID())
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		return promotionLost(ctx, tx, id, owner)
	})
	return sqlrow.Wrap(err, "renew lease of promotion %s", id)
}

// TakeOverPromotion makes to the owner of a running promotion whose current owner is from
// (compare and set: of takers at once, the others' UPDATE re-reads the row after waiting and
// no longer matches), with a lease until until. ECONFLICT when someone else took it first or
// it is no longer running; EINVALID when to has no host; ENOTFOUND when there is none.
func (db *DB) TakeOverPromotion(ctx context.Context, id string, from, to strata.Owner, until time.Time, e *strata.Event) error {
	if to.ID() == "" {
		return strata.Errorf(strata.EINVALID, "take over promotion %s: the new owner has no host", id)
	}
	updated := db.clock()
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var service string
		err := tx.QueryRow(ctx, `UPDATE promotions SET owner_id = $1, owner_host = $2, owner_pid = $3, owner_start = $4,
			lease_until = $5, updated_at = $6 WHERE id = $7 AND owner_id = $8 AND state = 'running' RETURNING service`,
			to.ID(), to.Host, to.PID, to.Start, sqlrow.Nanos(until), sqlrow.Nanos(updated), id, from.ID()).Scan(&service)
		if errors.Is(err, pgx.ErrNoRows) {
			return promotionLost(ctx, tx, id, from)
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
func promotionLost(ctx context.Context, tx pgx.Tx, id string, owner strata.Owner) error {
	var state, holder string
	err := tx.QueryRow(ctx, `SELECT state, owner_id FROM promotions WHERE id = $1`, id).Scan(&state, &holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return strata.Errorf(strata.ENOTFOUND, "no promotion %s", id)
	}
	if err != nil {
		return err
	}
	return sqlrow.PromotionLost(id, state, holder, owner)
}

// Promotion returns one promotion; ENOTFOUND when there is none.
func (db *DB) Promotion(ctx context.Context, id string) (*strata.Promotion, error) {
	p, err := one(ctx, db, `SELECT `+promotionColumns+` FROM promotions WHERE id = $1`, []any{id}, scanPromotion)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no promotion %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get promotion %s: %w", id, err)
	}
	return p, nil
}

// Promotions returns the promotions f selects, newest first.
func (db *DB) Promotions(ctx context.Context, f strata.PromotionFilter) ([]*strata.Promotion, error) {
	var c conds
	c.equal("service", f.Service)
	c.equal("version", f.Version)
	c.equal("stage", f.Stage)
	c.in("state", f.States)
	q := `SELECT ` + promotionColumns + ` FROM promotions` + c.clause() + ` ORDER BY created_at DESC, n DESC` + c.limit(f.Limit)
	return list(ctx, db, "list promotions", q, c.args, scanPromotion)
}

func scanPromotion(s scanner) (*strata.Promotion, error) {
	var p strata.Promotion
	var created, updated, lease int64
	var approvals string
	err := s.Scan(&p.ID, &p.Service, &p.Version, &p.Stage, &p.State, &p.Requester, &p.Override, &p.Reason,
		&p.Error, &created, &updated, &p.Owner.Host, &p.Owner.PID, &p.Owner.Start, &lease, &approvals)
	if err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = sqlrow.FromNanos(created), sqlrow.FromNanos(updated)
	p.LeaseUntil = sqlrow.FromNanos(lease)
	var pairs [][2]json.RawMessage
	if err := json.Unmarshal([]byte(approvals), &pairs); err != nil {
		return nil, fmt.Errorf("promotion %s: approvals: %w", p.ID, err)
	}
	p.Approvals = make([]strata.Approval, 0, len(pairs))
	for _, pair := range pairs {
		var a strata.Approval
		var at int64
		if err := json.Unmarshal(pair[0], &a.Principal); err != nil {
			return nil, fmt.Errorf("promotion %s: approvals: %w", p.ID, err)
		}
		if err := json.Unmarshal(pair[1], &at); err != nil {
			return nil, fmt.Errorf("promotion %s: approvals: %w", p.ID, err)
		}
		a.At = sqlrow.FromNanos(at)
		p.Approvals = append(p.Approvals, a)
	}
	return &p, nil
}
