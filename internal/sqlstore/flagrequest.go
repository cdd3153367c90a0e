package sqlstore

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

const flagRequestColumns = `id, environment, flag, action, change, detail, requested_by, needed, approvals, state, created_at`

// RequestFlagChange records r, waiting for approvals, with e. EINVALID when it names no
// environment, flag or requester, or needs no approval.
func (db *DB) RequestFlagChange(ctx context.Context, r *strata.FlagRequest, e *strata.Event) error {
	if r == nil || r.Environment == "" || r.Flag == "" || r.RequestedBy == "" || r.Needed < 1 {
		return strata.Errorf(strata.EINVALID, "request flag change: name an environment, a flag and a requester, and need at least one approval")
	}
	n := *r
	n.ID = sqlrow.NewID("fr-")
	n.State, n.Approvals = strata.FlagWaiting, []strata.Approval{}
	n.CreatedAt = db.orNow(n.CreatedAt)
	change, err := json.Marshal(n.Change)
	if err != nil {
		return err
	}
	var detail *string
	if len(n.Detail) > 0 {
		d := string(n.Detail)
		detail = &d
	}
	err = db.write(ctx, func(tx *txn) error {
		_, err := tx.Exec(ctx, `INSERT INTO flag_requests (`+flagRequestColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?)`,
			n.ID, n.Environment, n.Flag, n.Action, string(change), detail, n.RequestedBy, n.Needed, n.State, sqlrow.Nanos(n.CreatedAt))
		if err != nil {
			return err
		}
		return tx.audit(ctx, e, n.ID, "", n.Environment)
	})
	if err != nil {
		return sqlrow.Wrap(err, "request a change of flag %s in %s", n.Flag, n.Environment)
	}
	*r = n
	return nil
}

// ApproveFlagChange adds a's approval to waiting request id, and applies its change once it
// has the approvals it needs, in one transaction.
func (db *DB) ApproveFlagChange(ctx context.Context, id string, a strata.Approval, e, applied *strata.Event) (*strata.FlagRequest, *strata.FlagState, error) {
	a.At = db.orNow(a.At)
	var req *strata.FlagRequest
	var st *strata.FlagState
	err := db.write(ctx, func(tx *txn) error {
		req, st = nil, nil
		r, err := scanFlagRequest(tx.QueryRow(ctx, `SELECT `+flagRequestColumns+` FROM flag_requests WHERE id = ?`+db.d.ForUpdate, id))
		if noRows(err) {
			return strata.Errorf(strata.ENOTFOUND, "no flag change request %s; `strata flag requests --env ENV` lists those that wait", id)
		}
		if err != nil {
			return err
		}
		switch {
		case r.State != strata.FlagWaiting:
			return strata.Errorf(strata.ECONFLICT, "flag change request %s is %s, not waiting", id, r.State)
		case a.Principal == r.RequestedBy:
			return strata.Errorf(strata.ECONFLICT, "%s asked for flag change %s and cannot approve it; another principal must", a.Principal, id)
		case slices.ContainsFunc(r.Approvals, func(x strata.Approval) bool { return x.Principal == a.Principal }):
			return strata.Errorf(strata.ECONFLICT, "%s has approved flag change %s already", a.Principal, id)
		}
		r.Approvals = append(r.Approvals, a)
		if len(r.Approvals) >= r.Needed {
			c := r.Change
			c.Environment, c.Flag = r.Environment, r.Flag
			if st, err = db.applyFlag(ctx, tx, &c, a.At); err != nil {
				return err
			}
			r.State = strata.FlagApplied
		}
		approvals, err := json.Marshal(r.Approvals)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE flag_requests SET approvals = ?, state = ? WHERE id = ?`, string(approvals), r.State, id); err != nil {
			return err
		}
		var done *strata.Event
		if r.State == strata.FlagApplied {
			done = applied
		}
		req = r
		return tx.auditAll(ctx, audited{e, id, "", r.Environment}, audited{done, r.Flag, "", r.Environment})
	})
	if err != nil {
		return nil, nil, sqlrow.Wrap(err, "approve flag change %s", id)
	}
	return req, st, nil
}

// FlagRequests returns the waiting requests of env ("" for every environment), oldest first.
func (db *DB) FlagRequests(ctx context.Context, env string) ([]*strata.FlagRequest, error) {
	q, args := `SELECT `+flagRequestColumns+` FROM flag_requests WHERE state = ? ORDER BY created_at, id`, []any{strata.FlagWaiting}
	if env != "" {
		q, args = `SELECT `+flagRequestColumns+` FROM flag_requests WHERE state = ? AND environment = ? ORDER BY created_at, id`, []any{strata.FlagWaiting, env}
	}
	return list(ctx, db, "list flag change requests", q, args, scanFlagRequest)
}

func scanFlagRequest(s scanner) (*strata.FlagRequest, error) {
	var r strata.FlagRequest
	var change, approvals string
	var detail *string
	var created int64
	if err := s.Scan(&r.ID, &r.Environment, &r.Flag, &r.Action, &change, &detail, &r.RequestedBy, &r.Needed, &approvals, &r.State, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(change), &r.Change); err != nil {
		return nil, err
	}
	var err error
	if r.Approvals, err = readApprovals("flag request", r.ID, approvals); err != nil {
		return nil, err
	}
	if detail != nil {
		r.Detail = json.RawMessage(*detail)
	}
	r.CreatedAt = sqlrow.FromNanos(created)
	return &r, nil
}
