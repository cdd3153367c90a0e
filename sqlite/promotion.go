package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// promotionColumns reads a promotion and, in the same statement, its approvals in the order
// they were given.
const promotionColumns = `id, service, version, stage, state, requester, override, reason, error, created_at, updated_at,
	owner_host, owner_pid, owner_start, lease_until, (SELECT json_group_array(json_array(principal, at)) FROM
		(SELECT principal, at FROM approvals WHERE promotion = promotions.id ORDER BY at, rowid))`

// openStates is the SQL list of promotion states that are still open.
const openStates = `('waiting', 'running')`

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
// version and stage exists, it fills p with that one and returns ECONFLICT.
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
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if open, err := db.openPromotion(ctx, tx, p.Service, p.Version, p.Stage); err != nil || open != nil {
			if err != nil {
				return err
			}
			*p = *open
			return strata.Errorf(strata.ECONFLICT, "promotion %s of %s@%s to %s is open already (%s)",
				open.ID, open.Service, open.Version, open.Stage, open.State)
		}
		n := *p
		if n.ID == "" {
			n.ID = sqlrow.NewID("p-")
		}
		n.CreatedAt = db.orNow(n.CreatedAt)
		n.UpdatedAt = n.CreatedAt
		n.Owner, n.LeaseUntil = sqlrow.PromotionOwner(&n)
		_, err := db.exec(ctx, tx, `INSERT INTO promotions (id, service, version, stage, state, requester, override,
			reason, error, created_at, updated_at, owner_id, owner_host, owner_pid, owner_start, lease_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			n.ID, n.Service, n.Version, n.Stage, n.State, n.Requester, n.Override, n.Reason, n.Error,
			sqlrow.Nanos(n.CreatedAt), sqlrow.Nanos(n.UpdatedAt),
			n.Owner.ID(), n.Owner.Host, n.Owner.PID, n.Owner.Start, sqlrow.Nanos(n.LeaseUntil))
		if isUnique(err) {
			return strata.Errorf(strata.ECONFLICT, "a promotion of %s@%s to %s is open already", n.Service, n.Version, n.Stage)
		}
		if err != nil {
			return err
		}
		n.Approvals = append([]strata.Approval(nil), n.Approvals...)
		for i, a := range n.Approvals {
			a.At = db.orNow(a.At)
			n.Approvals[i] = a
			_, err := db.exec(ctx, tx, `INSERT INTO approvals (promotion, principal, at) VALUES (?, ?, ?)`,
				n.ID, a.Principal, sqlrow.Nanos(a.At))
			if isUnique(err) {
				return strata.Errorf(strata.EINVALID, "promotion %s: %s approves it twice", n.ID, a.Principal)
			}
			if err != nil {
				return err
			}
		}
		if err := db.audit(ctx, tx, e, n.ID, n.Service, ""); err != nil {
			return err
		}
		*p = n
		return nil
	})
	return sqlrow.Wrap(err, "create promotion of %s@%s to %s", p.Service, p.Version, p.Stage)
}

// openPromotion returns the open promotion of (service, version, stage), nil when none is.
func (db *DB) openPromotion(ctx context.Context, tx *sql.Tx, service, version, stage string) (*strata.Promotion, error) {
	p, err := scanPromotion(db.queryRow(ctx, tx, `SELECT `+promotionColumns+` FROM promotions
		WHERE service = ? AND version = ? AND stage = ? AND state IN `+openStates+` LIMIT 1`, service, version, stage))
	if errors.Is(err, sql.ErrNoRows) {
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
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var service string
		err := db.queryRow(ctx, tx, `UPDATE promotions SET state = ?, override = ?, reason = ?, error = ?, updated_at = ?,
			owner_id = ?, owner_host = ?, owner_pid = ?, owner_start = ?, lease_until = ?
			WHERE id = ? AND (state <> 'running' OR owner_id = ?) RETURNING service`,
			p.State, p.Override, p.Reason, p.Error, sqlrow.Nanos(updated),
			owner.ID(), owner.Host, owner.PID, owner.Start, sqlrow.Nanos(until), p.ID, p.Owner.ID()).Scan(&service)
		if errors.Is(err, sql.ErrNoRows) {
			return db.promotionLost(ctx, tx, p.ID, p.Owner)
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
// when there is no such promotion.
func (db *DB) Approve(ctx context.Context, id string, a strata.Approval, e *strata.Event) error {
	if a.Principal == "" {
		return strata.Errorf(strata.EINVALID, "approve promotion %s: no principal", id)
	}
	a.At = db.orNow(a.At)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var state, service string
		err := db.queryRow(ctx, tx, `SELECT state, service FROM promotions WHERE id = ?`, id).Scan(&state, &service)
		if errors.Is(err, sql.ErrNoRows) {
			return strata.Errorf(strata.ENOTFOUND, "no promotion %s", id)
		}
		if err != nil {
			return err
		}
		if state != strata.Waiting {
			return strata.Errorf(strata.ECONFLICT, "promotion %s is %s, not waiting for approval", id, state)
		}
		_, err = db.exec(ctx, tx, `INSERT INTO approvals (promotion, principal, at) VALUES (?, ?, ?)`, id, a.Principal, sqlrow.Nanos(a.At))
		if isUnique(err) {
			return strata.Errorf(strata.ECONFLICT, "%s has approved promotion %s already", a.Principal, id)
		}
		if err != nil {
			return err
		}
		if _, err := db.exec(ctx, tx, `UPDATE promotions SET updated_at = ? WHERE id = ?`, sqlrow.Nanos(a.At), id); err != nil {
			return err
		}
		return db.audit(ctx, tx, e, id, service, "")
	})
	return sqlrow.Wrap(err, "approve promotion %s", id)
}

// Promotion returns one promotion; ENOTFOUND when there is none.
func (db *DB) Promotion(ctx context.Context, id string) (*strata.Promotion, error) {
	p, err := scanPromotion(db.read.QueryRowContext(ctx, `SELECT `+promotionColumns+` FROM promotions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	q := `SELECT ` + promotionColumns + ` FROM promotions` + c.clause() + ` ORDER BY created_at DESC, rowid DESC`
	args := c.args
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return list(ctx, db, "list promotions", q, args, scanPromotion)
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
