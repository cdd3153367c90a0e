package sqlstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// taskRunColumns are the columns scanTaskRun reads.
const taskRunColumns = `id, service, environment, task, state, requester, reason, approvals, exit_code, error, output,
	owner_host, owner_pid, owner_start, lease_until, created_at, started_at, finished_at, pool, agent, fence, kind`

func scanTaskRun(s scanner) (*strata.TaskRun, error) {
	var r strata.TaskRun
	var approvals string
	var lease, created, started, finished int64
	err := s.Scan(&r.ID, &r.Service, &r.Environment, &r.Task, &r.State, &r.Requester, &r.Reason, &approvals, &r.ExitCode,
		&r.Error, &r.Output, &r.Owner.Host, &r.Owner.PID, &r.Owner.Start, &lease, &created, &started, &finished,
		&r.Pool, &r.Agent, &r.Fence, &r.Kind)
	if err != nil {
		return nil, err
	}
	if r.Approvals, err = readApprovals("task run", r.ID, approvals); err != nil {
		return nil, err
	}
	r.LeaseUntil, r.CreatedAt = sqlrow.FromNanos(lease), sqlrow.FromNanos(created)
	r.StartedAt, r.FinishedAt = sqlrow.FromNanos(started), sqlrow.FromNanos(finished)
	return &r, nil
}

// CreateTaskRun records r.
func (db *DB) CreateTaskRun(ctx context.Context, r *strata.TaskRun, e *strata.Event) error {
	if r.Service == "" || r.Environment == "" || r.Task == "" || (r.State != strata.RunWaiting && r.State != strata.RunRunning) {
		return strata.Errorf(strata.EINVALID, "create task run: a service, an environment, a task and the state waiting or running are needed")
	}
	n := *r
	if n.ID == "" {
		n.ID = sqlrow.NewID("t-")
	}
	n.CreatedAt = db.orNow(n.CreatedAt)
	if n.Kind == "" {
		n.Kind = strata.TaskRunbook
	}
	if !slices.Contains(strata.TaskKinds(), n.Kind) {
		return strata.Errorf(strata.EINVALID, "create task run: kind %q is not one of %s", n.Kind, strings.Join(strata.TaskKinds(), ", "))
	}
	if n.Approvals == nil {
		n.Approvals = []strata.Approval{}
	}
	var job *string
	if n.Pool != "" {
		j := string(n.Job)
		job = &j
	}
	err := db.write(ctx, func(tx *txn) error {
		_, err := tx.Exec(ctx, `INSERT INTO task_runs (id, service, environment, task, state, requester, reason, approvals, exit_code,
			owner_id, owner_host, owner_pid, owner_start, lease_until, created_at, started_at, pool, job, kind)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, -1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			n.ID, n.Service, n.Environment, n.Task, n.State, n.Requester, n.Reason, approvalsJSON(n.Approvals),
			n.Owner.ID(), n.Owner.Host, n.Owner.PID, n.Owner.Start, sqlrow.Nanos(n.LeaseUntil), sqlrow.Nanos(n.CreatedAt), sqlrow.Nanos(n.StartedAt),
			n.Pool, job, n.Kind)
		if err != nil {
			return err
		}
		return tx.audit(ctx, e, n.ID, n.Service, n.Environment)
	})
	if err != nil {
		return sqlrow.Wrap(err, "create task run %s of %s in %s", n.Task, n.Service, n.Environment)
	}
	n.ExitCode, n.Job = -1, nil
	*r = n
	return nil
}

// ClaimTaskRun moves a waiting run to running.
func (db *DB) ClaimTaskRun(ctx context.Context, id string, owner strata.Owner, until time.Time, job []byte, e *strata.Event) error {
	started := db.clock()
	q := `UPDATE task_runs SET state = 'running', owner_id = ?, owner_host = ?, owner_pid = ?, owner_start = ?,
			lease_until = ?, started_at = ?`
	args := []any{owner.ID(), owner.Host, owner.PID, owner.Start, sqlrow.Nanos(until), sqlrow.Nanos(started)}
	if job != nil {
		q += `, job = ?`
		args = append(args, string(job))
	}
	args = append(args, id)
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, q+` WHERE id = ? AND state = 'waiting'`, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return db.taskRunMissing(ctx, tx, id, "is %s, not waiting")
		}
		var service, env string
		if err := tx.QueryRow(ctx, `SELECT service, environment FROM task_runs WHERE id = ?`, id).Scan(&service, &env); err != nil {
			return err
		}
		return tx.audit(ctx, e, id, service, env)
	})
	return sqlrow.Wrap(err, "claim task run %s", id)
}

// ClaimRunJob gives c.Agent the oldest run queued for its pool: picked skipping rows other
// claimers hold locked (PostgreSQL), then updated compare-and-set on its fence, so that of
// two claimers that picked the same row one wins. Only fence 0 is ever claimed: a run is
// run at most once.
func (db *DB) ClaimRunJob(ctx context.Context, c strata.JobClaim, e *strata.Event) (*strata.TaskRun, error) {
	if c.Agent == "" || c.Pool == "" {
		return nil, strata.Errorf(strata.EINVALID, "claim a run: name the agent and its pool")
	}
	if len(c.Envs) == 0 {
		return nil, strata.Errorf(strata.ENOTFOUND, "no run of pool %s waits for this agent (its token covers no environment of the pool)", c.Pool)
	}
	now := db.orNow(c.Now)
	var got *strata.TaskRun
	err := db.write(ctx, func(tx *txn) error {
		got = nil
		envs, narrow := claimWhere(c, true)
		args := append([]any{c.Pool}, narrow...)
		var id string
		// "pool <> ''", "state = 'running'" and "fence = 0" are the partial index
		// task_runs_pool's condition, written out so that the planner uses it.
		err := tx.QueryRow(ctx, `SELECT id FROM task_runs
			WHERE pool = ? AND pool <> ''`+envs+` AND state = 'running' AND fence = 0
			ORDER BY created_at, `+db.d.Order+` LIMIT 1`+db.d.SkipLocked, args...).Scan(&id)
		if noRows(err) {
			return strata.Errorf(strata.ENOTFOUND, "no run of pool %s waits for an agent", c.Pool)
		}
		if err != nil {
			return err
		}
		owner := strata.AgentOwner(c.Agent, 1)
		rows, err := tx.Exec(ctx, `UPDATE task_runs SET fence = 1, agent = ?, owner_id = ?, owner_host = ?, owner_pid = 0,
			owner_start = ?, lease_until = ?, started_at = ?
			WHERE id = ? AND state = 'running' AND fence = 0`,
			c.Agent, owner.ID(), owner.Host, owner.Start, sqlrow.Nanos(c.Until), sqlrow.Nanos(now), id)
		if err != nil {
			return err
		}
		if rows != 1 {
			return strata.Errorf(strata.ECONFLICT, "run %s was claimed by another agent first", id)
		}
		r, err := taskRunWithJob(ctx, tx, id)
		if err != nil {
			return err
		}
		got = r
		return tx.audit(ctx, e, r.ID, r.Service, r.Environment)
	})
	if err != nil {
		return nil, sqlrow.Wrap(err, "claim a run of pool %s for agent %s", c.Pool, c.Agent)
	}
	return got, nil
}

// HeldRunJob gives c.Agent again the run it holds claimed since c.Since (the newest),
// renewing its lease compare-and-set on the claim's owner: a claim whose answer was lost.
func (db *DB) HeldRunJob(ctx context.Context, c strata.JobClaim) (*strata.TaskRun, error) {
	if c.Agent == "" || c.Pool == "" {
		return nil, strata.Errorf(strata.EINVALID, "find a held run: name the agent and its pool")
	}
	if len(c.Envs) == 0 {
		return nil, strata.Errorf(strata.ENOTFOUND, "agent %s holds no run (its token covers no environment of pool %s)", c.Agent, c.Pool)
	}
	now := db.orNow(c.Now)
	var got *strata.TaskRun
	err := db.write(ctx, func(tx *txn) error {
		got = nil
		kinds, narrow := claimWhere(c, true)
		owner := strata.AgentOwner(c.Agent, 1)
		args := append([]any{c.Pool, owner.ID()}, narrow...)
		args = append(args, sqlrow.Nanos(now), sqlrow.Nanos(c.Since))
		var id string
		// "pool <> ''" and "state = 'running'" as ClaimRunJob's: task_runs_pool's condition.
		err := tx.QueryRow(ctx, `SELECT id FROM task_runs
			WHERE pool = ? AND pool <> '' AND state = 'running' AND fence = 1 AND owner_id = ?`+kinds+`
			AND lease_until >= ? AND started_at >= ?
			ORDER BY started_at DESC, `+db.d.Order+` DESC LIMIT 1`, args...).Scan(&id)
		if noRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE task_runs SET lease_until = ? WHERE id = ? AND owner_id = ? AND state = 'running'`,
			sqlrow.Nanos(c.Until), id, owner.ID()); err != nil {
			return err
		}
		r, err := taskRunWithJob(ctx, tx, id)
		if err != nil {
			return err
		}
		got = r
		return nil
	})
	if err != nil {
		return nil, sqlrow.Wrap(err, "find the run agent %s holds", c.Agent)
	}
	if got == nil {
		return nil, strata.Errorf(strata.ENOTFOUND, "agent %s holds no run claimed since %s", c.Agent, c.Since.UTC().Format(time.RFC3339Nano))
	}
	return got, nil
}

// RenewTaskRun extends a running run's lease, compare-and-set on its owner.
func (db *DB) RenewTaskRun(ctx context.Context, id string, owner strata.Owner, until time.Time) error {
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, `UPDATE task_runs SET lease_until = ? WHERE id = ? AND state = 'running' AND owner_id = ? AND owner_id <> ''`,
			sqlrow.Nanos(until), id, owner.ID())
		if err != nil {
			return err
		}
		if n == 0 {
			return db.taskRunMissing(ctx, tx, id, "is %s and no longer this claim's")
		}
		return nil
	})
	return sqlrow.Wrap(err, "renew task run %s", id)
}

// AppendTaskRunOutput adds data to a running run's output, compare-and-set on its owner:
// the row is read locked, so that the cap holds against any other writer, and written
// with one UPDATE.
func (db *DB) AppendTaskRunOutput(ctx context.Context, id string, owner strata.Owner, data string) error {
	if owner.ID() == "" {
		return strata.Errorf(strata.EINVALID, "append to the output of task run %s: name its owner", id)
	}
	err := db.write(ctx, func(tx *txn) error {
		var output string
		err := tx.QueryRow(ctx, `SELECT output FROM task_runs WHERE id = ? AND state = 'running' AND owner_id = ?`+db.d.ForUpdate,
			id, owner.ID()).Scan(&output)
		if noRows(err) {
			return db.taskRunMissing(ctx, tx, id, "is %s and not this claim's")
		}
		if err != nil {
			return err
		}
		room := strata.RunOutputCap - len(output)
		if room <= 0 || data == "" {
			return nil
		}
		data = strata.CutText(data, room) // the column holds text
		_, err = tx.Exec(ctx, `UPDATE task_runs SET output = ? WHERE id = ? AND state = 'running' AND owner_id = ?`,
			output+data, id, owner.ID())
		return err
	})
	return sqlrow.Wrap(err, "append to the output of task run %s", id)
}

// taskRunMissing is the error of a compare-and-set on run id that matched nothing:
// ENOTFOUND when there is no such run, else ECONFLICT with how (naming its state).
func (db *DB) taskRunMissing(ctx context.Context, tx *txn, id, how string) error {
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM task_runs WHERE id = ?`, id).Scan(&state)
	if noRows(err) {
		return strata.Errorf(strata.ENOTFOUND, "no task run %s", id)
	}
	if err != nil {
		return err
	}
	return strata.Errorf(strata.ECONFLICT, "task run %s "+how, id, state)
}

// UpdateTaskRun writes an ending (or a rejection) of r.
func (db *DB) UpdateTaskRun(ctx context.Context, r *strata.TaskRun, e *strata.Event) error {
	switch r.State {
	case strata.RunSucceeded, strata.RunFailed, strata.RunRejected:
	default:
		return strata.Errorf(strata.EINVALID, "update task run %s: state %q is not an ending", r.ID, r.State)
	}
	err := db.write(ctx, func(tx *txn) error {
		// A running run is ended by its owner; a waiting one (rejected, or failed by resume
		// when its gates can never open) by anyone.
		n, err := tx.Exec(ctx, `UPDATE task_runs SET state = ?, exit_code = ?, error = ?, output = ?, finished_at = ?,
			owner_id = '', owner_host = '', owner_pid = 0, owner_start = 0, lease_until = 0
			WHERE id = ? AND (state = 'waiting' OR (state = 'running' AND owner_id = ?))`,
			r.State, r.ExitCode, r.Error, r.Output, sqlrow.Nanos(r.FinishedAt), r.ID, r.Owner.ID())
		if err != nil {
			return err
		}
		if n == 0 {
			return db.taskRunMissing(ctx, tx, r.ID, "is %s and not this process's to end")
		}
		return tx.audit(ctx, e, r.ID, r.Service, r.Environment)
	})
	if err != nil {
		return sqlrow.Wrap(err, "update task run %s", r.ID)
	}
	r.Owner, r.LeaseUntil = strata.Owner{}, time.Time{}
	return nil
}

// taskRunApprovals are the approvals a waiting task run collects.
var taskRunApprovals = waitingApprovals{table: "task_runs", what: "task run", waiting: strata.RunWaiting}

// ApproveTaskRun adds an approval to a waiting run.
func (db *DB) ApproveTaskRun(ctx context.Context, id string, a strata.Approval, e *strata.Event) error {
	if a.Principal == "" {
		return strata.Errorf(strata.EINVALID, "approve task run %s: no principal", id)
	}
	a.At = db.orNow(a.At)
	err := db.write(ctx, func(tx *txn) error {
		var service, env string
		if err := taskRunApprovals.approve(ctx, db, tx, id, a, ", service, environment", &service, &env); err != nil {
			return err
		}
		return tx.audit(ctx, e, id, service, env)
	})
	return sqlrow.Wrap(err, "approve task run %s", id)
}

// TaskRun returns one run.
func (db *DB) TaskRun(ctx context.Context, id string) (*strata.TaskRun, error) {
	return byID(ctx, db, "task run", id, `SELECT `+taskRunColumns+` FROM task_runs WHERE id = ?`, scanTaskRun)
}

// TaskRuns returns the runs f selects, newest first.
func (db *DB) TaskRuns(ctx context.Context, f strata.TaskRunFilter) ([]*strata.TaskRun, error) {
	var c conds
	c.equal("service", f.Service)
	c.equal("environment", f.Environment)
	c.in("state", f.States)
	c.in("kind", f.Kinds)
	q := `SELECT ` + taskRunColumns + ` FROM task_runs` + c.clause() + ` ORDER BY created_at DESC, ` + db.d.Order + ` DESC` + c.limit(f.Limit)
	return list(ctx, db, "list task runs", q, c.args, scanTaskRun)
}

// taskRunWithJob reads run id with the job an agent runs for it.
func taskRunWithJob(ctx context.Context, tx *txn, id string) (*strata.TaskRun, error) {
	r, err := scanTaskRun(tx.QueryRow(ctx, `SELECT `+taskRunColumns+` FROM task_runs WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	r.Job, err = readJob(ctx, tx, "task_runs", id)
	return r, err
}
