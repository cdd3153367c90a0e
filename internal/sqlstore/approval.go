package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/strata-dev/strata"
)

// approvalsJSON encodes the approvals of a row that keeps them in a JSON column (a switch,
// a task run): never null.
func approvalsJSON(as []strata.Approval) string {
	if as == nil {
		as = []strata.Approval{}
	}
	b, _ := json.Marshal(as)
	return string(b)
}

// readApprovals decodes the approvals column of row id (what names the row in the error),
// never nil.
func readApprovals(what, id, col string) ([]strata.Approval, error) {
	var as []strata.Approval
	if err := json.Unmarshal([]byte(col), &as); err != nil {
		return nil, fmt.Errorf("%s %s: approvals: %w", what, id, err)
	}
	if as == nil {
		as = []strata.Approval{}
	}
	return as, nil
}

// waitingApprovals names a table whose rows collect approvals in a JSON column `approvals`
// while their `state` is waiting (switches, task runs): what names a row in errors.
type waitingApprovals struct {
	table, what, waiting string
}

// approve adds a's approval to row id in tx: ENOTFOUND for no such row, ECONFLICT when it
// waits no more or a has approved it already. cols (", service, environment") are more
// columns of the row read into dest, for the caller's audit event.
func (w waitingApprovals) approve(ctx context.Context, db *DB, tx *txn, id string, a strata.Approval, cols string, dest ...any) error {
	var state, approvals string
	err := tx.QueryRow(ctx, `SELECT state, approvals`+cols+` FROM `+w.table+` WHERE id = ?`+db.d.ForUpdate, id).
		Scan(append([]any{&state, &approvals}, dest...)...)
	if noRows(err) {
		return strata.Errorf(strata.ENOTFOUND, "no %s %s", w.what, id)
	}
	if err != nil {
		return err
	}
	if state != w.waiting {
		return strata.Errorf(strata.ECONFLICT, "%s %s is %s, not waiting for approval", w.what, id, state)
	}
	as, err := readApprovals(w.what, id, approvals)
	if err != nil {
		return err
	}
	for _, x := range as {
		if x.Principal == a.Principal {
			return strata.Errorf(strata.ECONFLICT, "%s has approved %s %s already", a.Principal, w.what, id)
		}
	}
	_, err = tx.Exec(ctx, `UPDATE `+w.table+` SET approvals = ? WHERE id = ?`, approvalsJSON(append(as, a)), id)
	return err
}
