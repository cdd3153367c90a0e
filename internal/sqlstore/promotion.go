package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// promotionColumns reads a promotion and, in the same statement, its approvals in the order
// they were given (the dialect's Approvals).
func (db *DB) promotionColumns() string {
	return `id, service, version, stage, state, requester, override, reason, error, created_at, updated_at,
		owner_host, owner_pid, owner_start, lease_until, only_envs, members, ` + db.d.Approvals
}

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
// ("p-...") and times; a running p is recorded with its owner and lease. When an open
// (waiting or running) promotion of the same service, version, stage, environments (Only)
// and members exists, it fills p with that one and returns ECONFLICT; of concurrent
// creators, one inserts and the others' inserts wait for it, do nothing, and read it.
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
	only, members, err := promotionScope(&n)
	if err != nil {
		return err
	}
	var open *strata.Promotion
	err = db.write(ctx, func(tx *txn) error {
		open = nil
		inserted, err := tx.Exec(ctx, `INSERT INTO promotions (id, service, version, stage, state, requester, override,
			reason, error, created_at, updated_at, owner_id, owner_host, owner_pid, owner_start, lease_until, only_envs, members)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			n.ID, n.Service, n.Version, n.Stage, n.State, n.Requester, n.Override, n.Reason, n.Error,
			sqlrow.Nanos(n.CreatedAt), sqlrow.Nanos(n.UpdatedAt),
			n.Owner.ID(), n.Owner.Host, n.Owner.PID, n.Owner.Start, sqlrow.Nanos(n.LeaseUntil), only, members)
		if err != nil {
			return err
		}
		if inserted == 0 {
			if open, err = db.openPromotion(ctx, tx, n.Service, n.Version, n.Stage, only, members); err != nil || open != nil {
				if err != nil {
					return err
				}
				return strata.Errorf(strata.ECONFLICT, "promotion %s of %s@%s to %s is open already (%s)",
					open.ID, open.Service, open.Version, open.Stage, open.State)
			}
			return strata.Errorf(strata.ECONFLICT, "promotion %s exists already", n.ID)
		}
		for _, a := range n.Approvals {
			_, err := tx.Exec(ctx, `INSERT INTO approvals (promotion, principal, at) VALUES (?, ?, ?)`,
				n.ID, a.Principal, sqlrow.Nanos(a.At))
			if db.d.IsUnique(err) {
				return strata.Errorf(strata.EINVALID, "promotion %s: %s approves it twice", n.ID, a.Principal)
			}
			if err != nil {
				return err
			}
		}
		return tx.audit(ctx, e, n.ID, n.Service, "")
	})
	if open != nil {
		*p = *open
	}
	if err != nil {
		return sqlrow.Wrap(err, "create promotion of %s@%s to %s", n.Service, n.Version, n.Stage)
	}
	*p = n
	return nil
}

// promotionScope encodes p's environments and members as their columns: the environments
// comma separated (names cannot hold a comma), the members as a JSON array of [service,
// version] pairs; each "" when p has none.
func promotionScope(p *strata.Promotion) (only, members string, err error) {
	for _, env := range p.Only {
		if env == "" || strings.Contains(env, ",") {
			return "", "", strata.Errorf(strata.EINVALID, "promotion of %s@%s to %s: %q is not an environment name", p.Service, p.Version, p.Stage, env)
		}
	}
	only = strings.Join(p.Only, ",")
	if len(p.Members) > 0 {
		pairs := make([][2]string, len(p.Members))
		for i, m := range p.Members {
			pairs[i] = [2]string{m.Service, m.Version}
		}
		b, err := json.Marshal(pairs)
		if err != nil {
			return "", "", err
		}
		members = string(b)
	}
	return only, members, nil
}

// readScope decodes promotionScope's columns into p.
func readScope(p *strata.Promotion, only, members string) error {
	if only != "" {
		p.Only = strings.Split(only, ",")
	}
	if members == "" {
		return nil
	}
	var pairs [][2]string
	if err := json.Unmarshal([]byte(members), &pairs); err != nil {
		return fmt.Errorf("promotion %s: members: %w", p.ID, err)
	}
	for _, pair := range pairs {
		p.Members = append(p.Members, strata.Member{Service: pair[0], Version: pair[1]})
	}
	return nil
}

// openPromotion returns the open promotion of (service, version, stage, environments,
// members), nil when none is.
func (db *DB) openPromotion(ctx context.Context, q Querier, service, version, stage, only, members string) (*strata.Promotion, error) {
	p, err := scanPromotion(q.QueryRow(ctx, `SELECT `+db.promotionColumns()+` FROM promotions
		WHERE service = ? AND version = ? AND stage = ? AND only_envs = ? AND members = ? AND state IN `+openStates+` LIMIT 1`,
		service, version, stage, only, members))
	if noRows(err) {
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
	err := db.write(ctx, func(tx *txn) error {
		var service string
		err := tx.QueryRow(ctx, `UPDATE promotions SET state = ?, override = ?, reason = ?, error = ?, updated_at = ?,
			owner_id = ?, owner_host = ?, owner_pid = ?, owner_start = ?, lease_until = ?
			WHERE id = ? AND (state <> 'running' OR owner_id = ?) RETURNING service`,
			p.State, p.Override, p.Reason, p.Error, sqlrow.Nanos(updated),
			owner.ID(), owner.Host, owner.PID, owner.Start, sqlrow.Nanos(until), p.ID, p.Owner.ID()).Scan(&service)
		if noRows(err) {
			return promotionLost(ctx, tx, p.ID, p.Owner)
		}
		if db.d.IsUnique(err) {
			return strata.Errorf(strata.ECONFLICT, "another promotion of %s@%s to %s is open", p.Service, p.Version, p.Stage)
		}
		if err != nil {
			return err
		}
		return tx.audit(ctx, e, p.ID, service, "")
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
	err := db.write(ctx, func(tx *txn) error {
		var state, service string
		err := tx.QueryRow(ctx, `SELECT state, service FROM promotions WHERE id = ?`+db.d.ForUpdate, id).Scan(&state, &service)
		if noRows(err) {
			return strata.Errorf(strata.ENOTFOUND, "no promotion %s", id)
		}
		if err != nil {
			return err
		}
		if state != strata.Waiting {
			return strata.Errorf(strata.ECONFLICT, "promotion %s is %s, not waiting for approval", id, state)
		}
		n, err := tx.Exec(ctx, `INSERT INTO approvals (promotion, principal, at) VALUES (?, ?, ?)
			ON CONFLICT (promotion, principal) DO NOTHING`, id, a.Principal, sqlrow.Nanos(a.At))
		if err != nil {
			return err
		}
		if n == 0 {
			return strata.Errorf(strata.ECONFLICT, "%s has approved promotion %s already", a.Principal, id)
		}
		if _, err := tx.Exec(ctx, `UPDATE promotions SET updated_at = ? WHERE id = ?`, sqlrow.Nanos(a.At), id); err != nil {
			return err
		}
		return tx.audit(ctx, e, id, service, "")
	})
	return sqlrow.Wrap(err, "approve promotion %s", id)
}

// ClaimPromotion moves a waiting promotion to running, owned by owner with a lease until
// until, only if it is still waiting, in one UPDATE ... WHERE state = 'waiting': of several
// servers whose schedulers found its gates open at once, one runs it (the others' UPDATE no
// longer matches). ECONFLICT when it is no longer waiting; ENOTFOUND when there is no such
// promotion.
func (db *DB) ClaimPromotion(ctx context.Context, id string, owner strata.Owner, until time.Time, e *strata.Event) error {
	updated := db.clock()
	err := db.write(ctx, func(tx *txn) error {
		var service string
		err := tx.QueryRow(ctx, `UPDATE promotions SET state = ?, updated_at = ?, owner_id = ?, owner_host = ?,
			owner_pid = ?, owner_start = ?, lease_until = ? WHERE id = ? AND state = ? RETURNING service`,
			strata.Running, sqlrow.Nanos(updated), owner.ID(), owner.Host, owner.PID, owner.Start, sqlrow.Nanos(until),
			id, strata.Waiting).Scan(&service)
		if noRows(err) {
			var state string
			err := tx.QueryRow(ctx, `SELECT state FROM promotions WHERE id = ?`, id).Scan(&state)
			if noRows(err) {
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
		return tx.audit(ctx, e, id, service, "")
	})
	return sqlrow.Wrap(err, "claim promotion %s", id)
}

// RenewPromotionLease extends a running promotion's lease to until. ECONFLICT when owner no
// longer holds it (or it is not running); ENOTFOUND when there is no such promotion.
func (db *DB) RenewPromotionLease(ctx context.Context, id string, owner strata.Owner, until time.Time) error {
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, `UPDATE promotions SET lease_until = ?
			WHERE id = ? AND owner_id = ? AND owner_id <> '' AND state = 'running'`,
			sqlrow.Nanos(until), id, owner.ID())
		if err != nil || n == 1 {
			return err
		}
		return promotionLost(ctx, tx, id, owner)
	})
	return sqlrow.Wrap(err, "renew lease of promotion %s", id)
}

// TakeOverPromotion makes to the owner of a running promotion whose current owner is from
// (compare and set: of takers at once, the others' UPDATE no longer matches), with a lease
// until until. ECONFLICT when someone else took it first or it is no longer running;
// EINVALID when to has no host; ENOTFOUND when there is none.
func (db *DB) TakeOverPromotion(ctx context.Context, id string, from, to strata.Owner, until time.Time, e *strata.Event) error {
	if to.ID() == "" {
		return strata.Errorf(strata.EINVALID, "take over promotion %s: the new owner has no host", id)
	}
	updated := db.clock()
	err := db.write(ctx, func(tx *txn) error {
		var service string
		err := tx.QueryRow(ctx, `UPDATE promotions SET owner_id = ?, owner_host = ?, owner_pid = ?, owner_start = ?,
			lease_until = ?, updated_at = ? WHERE id = ? AND owner_id = ? AND state = 'running' RETURNING service`,
			to.ID(), to.Host, to.PID, to.Start, sqlrow.Nanos(until), sqlrow.Nanos(updated), id, from.ID()).Scan(&service)
		if noRows(err) {
			return promotionLost(ctx, tx, id, from)
		}
		if err != nil {
			return err
		}
		return tx.audit(ctx, e, id, service, "")
	})
	return sqlrow.Wrap(err, "take over promotion %s", id)
}

// promotionLost explains why a write by owner to promotion id matched no row: ENOTFOUND, or
// ECONFLICT naming who holds it now.
func promotionLost(ctx context.Context, q Querier, id string, owner strata.Owner) error {
	var state, holder string
	err := q.QueryRow(ctx, `SELECT state, owner_id FROM promotions WHERE id = ?`, id).Scan(&state, &holder)
	if noRows(err) {
		return strata.Errorf(strata.ENOTFOUND, "no promotion %s", id)
	}
	if err != nil {
		return err
	}
	return sqlrow.PromotionLost(id, state, holder, owner)
}

// Promotion returns one promotion; ENOTFOUND when there is none.
func (db *DB) Promotion(ctx context.Context, id string) (*strata.Promotion, error) {
	return byID(ctx, db, "promotion", id, `SELECT `+db.promotionColumns()+` FROM promotions WHERE id = ?`, scanPromotion)
}

// Promotions returns the promotions f selects, newest first.
func (db *DB) Promotions(ctx context.Context, f strata.PromotionFilter) ([]*strata.Promotion, error) {
	var c conds
	c.equal("service", f.Service)
	c.equal("version", f.Version)
	c.equal("stage", f.Stage)
	c.in("state", f.States)
	if f.Before != "" {
		c.where = append(c.where, "(created_at, "+db.d.Order+") < (SELECT created_at, "+db.d.Order+" FROM promotions WHERE id = ?)")
		c.args = append(c.args, f.Before)
	}
	q := `SELECT ` + db.promotionColumns() + ` FROM promotions` + c.clause() + ` ORDER BY created_at DESC, ` + db.d.Order + ` DESC` + c.limit(f.Limit)
	return list(ctx, db, "list promotions", q, c.args, scanPromotion)
}

func scanPromotion(s scanner) (*strata.Promotion, error) {
	var p strata.Promotion
	var created, updated, lease int64
	var approvals, only, members string
	err := s.Scan(&p.ID, &p.Service, &p.Version, &p.Stage, &p.State, &p.Requester, &p.Override, &p.Reason,
		&p.Error, &created, &updated, &p.Owner.Host, &p.Owner.PID, &p.Owner.Start, &lease, &only, &members, &approvals)
	if err != nil {
		return nil, err
	}
	if err := readScope(&p, only, members); err != nil {
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
