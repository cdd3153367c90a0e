package sqlstore

import (
	"context"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// switchColumns are the columns scanSwitch reads.
const switchColumns = `id, grp, from_env, to_env, kind, state, requester, reason, approvals, error, output,
	owner_host, owner_pid, owner_start, lease_until, created_at, started_at, finished_at`

func scanSwitch(s scanner) (*strata.Switch, error) {
	var w strata.Switch
	var approvals string
	var lease, created, started, finished int64
	err := s.Scan(&w.ID, &w.Group, &w.From, &w.To, &w.Kind, &w.State, &w.Requester, &w.Reason, &approvals, &w.Error, &w.Output,
		&w.Owner.Host, &w.Owner.PID, &w.Owner.Start, &lease, &created, &started, &finished)
	if err != nil {
		return nil, err
	}
	if w.Approvals, err = readApprovals("switch", w.ID, approvals); err != nil {
		return nil, err
	}
	w.LeaseUntil, w.CreatedAt = sqlrow.FromNanos(lease), sqlrow.FromNanos(created)
	w.StartedAt, w.FinishedAt = sqlrow.FromNanos(started), sqlrow.FromNanos(finished)
	return &w, nil
}

// CreateSwitch records s, unless the group has an open switch (then s becomes that one).
func (db *DB) CreateSwitch(ctx context.Context, s *strata.Switch, e *strata.Event) error {
	if s.Group == "" || s.From == "" || s.To == "" || (s.Kind != strata.KindSwitch && s.Kind != strata.KindFailover) ||
		(s.State != strata.SwitchWaiting && s.State != strata.SwitchRunning) {
		return strata.Errorf(strata.EINVALID, "create switch: a group, from, to, the kind switch or failover and the state waiting or running are needed")
	}
	n := *s
	if n.ID == "" {
		n.ID = sqlrow.NewID("sw-")
	}
	n.CreatedAt = db.orNow(n.CreatedAt)
	if n.Approvals == nil {
		n.Approvals = []strata.Approval{}
	}
	var open *strata.Switch
	err := db.write(ctx, func(tx *txn) error {
		open = nil
		// The partial unique index on open switches refuses a second one; DO NOTHING keeps
		// the transaction usable to name the one that is open.
		added, err := tx.Exec(ctx, `INSERT INTO switches (id, grp, from_env, to_env, kind, state, requester, reason, approvals,
			owner_id, owner_host, owner_pid, owner_start, lease_until, created_at, started_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			n.ID, n.Group, n.From, n.To, n.Kind, n.State, n.Requester, n.Reason, approvalsJSON(n.Approvals),
			n.Owner.ID(), n.Owner.Host, n.Owner.PID, n.Owner.Start, sqlrow.Nanos(n.LeaseUntil), sqlrow.Nanos(n.CreatedAt), sqlrow.Nanos(n.StartedAt))
		if err != nil {
			return err
		}
		if added == 0 {
			o, err := scanSwitch(tx.QueryRow(ctx, `SELECT `+switchColumns+` FROM switches WHERE grp = ? AND state IN ('waiting', 'running')`, n.Group))
			if err != nil {
				return err
			}
			open = o
			return strata.Errorf(strata.ECONFLICT, "group %s has an open switch already: %s (%s to %s, %s)", n.Group, o.ID, o.From, o.To, o.State)
		}
		return tx.audit(ctx, e, n.ID, "", n.To)
	})
	if open != nil {
		*s = *open
	}
	if err != nil {
		return sqlrow.Wrap(err, "create switch of %s to %s", n.Group, n.To)
	}
	*s = n
	return nil
}

// switchMissing is the error of a compare-and-set on switch id that matched nothing.
func (db *DB) switchMissing(ctx context.Context, tx *txn, id, how string) error {
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM switches WHERE id = ?`, id).Scan(&state)
	if noRows(err) {
		return strata.Errorf(strata.ENOTFOUND, "no switch %s", id)
	}
	if err != nil {
		return err
	}
	return strata.Errorf(strata.ECONFLICT, "switch %s "+how, id, state)
}

// auditSwitch appends e about switch id, naming its target environment.
func (tx *txn) auditSwitch(ctx context.Context, e *strata.Event, id string) error {
	if e == nil {
		return nil
	}
	var to string
	if err := tx.QueryRow(ctx, `SELECT to_env FROM switches WHERE id = ?`, id).Scan(&to); err != nil {
		return err
	}
	return tx.audit(ctx, e, id, "", to)
}

// switchApprovals are the approvals a waiting switch collects.
var switchApprovals = waitingApprovals{table: "switches", what: "switch", waiting: strata.SwitchWaiting}

// ApproveSwitch adds an approval to a waiting switch.
func (db *DB) ApproveSwitch(ctx context.Context, id string, a strata.Approval, e *strata.Event) error {
	if a.Principal == "" {
		return strata.Errorf(strata.EINVALID, "approve switch %s: no principal", id)
	}
	a.At = db.orNow(a.At)
	err := db.write(ctx, func(tx *txn) error {
		if err := switchApprovals.approve(ctx, db, tx, id, a, ""); err != nil {
			return err
		}
		return tx.auditSwitch(ctx, e, id)
	})
	return sqlrow.Wrap(err, "approve switch %s", id)
}

// ClaimSwitch moves a waiting switch to running.
func (db *DB) ClaimSwitch(ctx context.Context, id string, owner strata.Owner, until time.Time, e *strata.Event) error {
	started := db.clock()
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, `UPDATE switches SET state = 'running', owner_id = ?, owner_host = ?, owner_pid = ?, owner_start = ?,
			lease_until = ?, started_at = ? WHERE id = ? AND state = 'waiting'`,
			owner.ID(), owner.Host, owner.PID, owner.Start, sqlrow.Nanos(until), sqlrow.Nanos(started), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return db.switchMissing(ctx, tx, id, "is %s, not waiting")
		}
		return tx.auditSwitch(ctx, e, id)
	})
	return sqlrow.Wrap(err, "claim switch %s", id)
}

// TakeOverSwitch moves a running switch from one owner to another (compare and set).
func (db *DB) TakeOverSwitch(ctx context.Context, id string, from, to strata.Owner, until time.Time, e *strata.Event) error {
	if to.Host == "" {
		return strata.Errorf(strata.EINVALID, "take over switch %s: the new owner has no host", id)
	}
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, `UPDATE switches SET owner_id = ?, owner_host = ?, owner_pid = ?, owner_start = ?, lease_until = ?
			WHERE id = ? AND state = 'running' AND owner_id = ?`,
			to.ID(), to.Host, to.PID, to.Start, sqlrow.Nanos(until), id, from.ID())
		if err != nil {
			return err
		}
		if n == 0 {
			return db.switchMissing(ctx, tx, id, "is %s and no longer held by its old owner")
		}
		return tx.auditSwitch(ctx, e, id)
	})
	return sqlrow.Wrap(err, "take over switch %s", id)
}

// FinishSwitch writes s's ending and, when it succeeded, moves the group's live member.
func (db *DB) FinishSwitch(ctx context.Context, s *strata.Switch, e *strata.Event) error {
	switch s.State {
	case strata.SwitchSucceeded, strata.SwitchFailed, strata.SwitchRejected:
	default:
		return strata.Errorf(strata.EINVALID, "finish switch %s: state %q is not an ending", s.ID, s.State)
	}
	finished := db.orNow(s.FinishedAt)
	err := db.write(ctx, func(tx *txn) error {
		// A running switch is ended by its owner; a waiting one (rejected) by anyone.
		n, err := tx.Exec(ctx, `UPDATE switches SET state = ?, error = ?, output = ?, finished_at = ?,
			owner_id = '', owner_host = '', owner_pid = 0, owner_start = 0, lease_until = 0
			WHERE id = ? AND (state = 'waiting' OR (state = 'running' AND owner_id = ?))`,
			s.State, s.Error, s.Output, sqlrow.Nanos(finished), s.ID, s.Owner.ID())
		if err != nil {
			return err
		}
		if n == 0 {
			return db.switchMissing(ctx, tx, s.ID, "is %s and not this process's to end")
		}
		if s.State == strata.SwitchSucceeded {
			if err := db.moveLive(ctx, tx, s, finished); err != nil {
				return err
			}
		}
		return tx.auditSwitch(ctx, e, s.ID)
	})
	if err != nil {
		return sqlrow.Wrap(err, "finish switch %s", s.ID)
	}
	s.Owner, s.LeaseUntil, s.FinishedAt = strata.Owner{}, time.Time{}, finished
	return nil
}

// moveLive makes s.To the live member of s.Group, only if it is s.From (or none is recorded,
// or s.To already: a switch resumed after its pointer moved moves it once).
func (db *DB) moveLive(ctx context.Context, tx *txn, s *strata.Switch, at time.Time) error {
	var cur string
	err := tx.QueryRow(ctx, `SELECT environment FROM group_live WHERE grp = ?`+db.d.ForUpdate, s.Group).Scan(&cur)
	switch {
	case noRows(err):
		_, err = tx.Exec(ctx, `INSERT INTO group_live (grp, environment, switch_id, since) VALUES (?, ?, ?, ?)`,
			s.Group, s.To, s.ID, sqlrow.Nanos(at))
		return err
	case err != nil:
		return err
	case cur == s.To:
		return nil
	case cur != s.From:
		return strata.Errorf(strata.ECONFLICT, "group %s: %s is live now, not %s; switch %s from %s did not move it", s.Group, cur, s.From, s.ID, s.From)
	}
	_, err = tx.Exec(ctx, `UPDATE group_live SET environment = ?, switch_id = ?, since = ? WHERE grp = ?`, s.To, s.ID, sqlrow.Nanos(at), s.Group)
	return err
}

// Switch returns one switch.
func (db *DB) Switch(ctx context.Context, id string) (*strata.Switch, error) {
	return byID(ctx, db, "switch", id, `SELECT `+switchColumns+` FROM switches WHERE id = ?`, scanSwitch)
}

// Switches returns the switches f selects, newest first.
func (db *DB) Switches(ctx context.Context, f strata.SwitchFilter) ([]*strata.Switch, error) {
	var c conds
	c.equal("grp", f.Group)
	c.in("state", f.States)
	q := `SELECT ` + switchColumns + ` FROM switches` + c.clause() + ` ORDER BY created_at DESC, ` + db.d.Order + ` DESC` + c.limit(f.Limit)
	return list(ctx, db, "list switches", q, c.args, scanSwitch)
}

// LiveMembers returns the live member of every group a switch has moved.
func (db *DB) LiveMembers(ctx context.Context) ([]*strata.LiveMember, error) {
	return list(ctx, db, "list live members", `SELECT grp, environment, switch_id, since FROM group_live ORDER BY grp`, nil,
		func(s scanner) (*strata.LiveMember, error) {
			var m strata.LiveMember
			var since int64
			if err := s.Scan(&m.Group, &m.Environment, &m.Switch, &since); err != nil {
				return nil, err
			}
			m.Since = sqlrow.FromNanos(since)
			return &m, nil
		})
}
