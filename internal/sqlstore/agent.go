package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// SeeAgent records that agent a is connected now: a register (connect) starts its
// connected_since again; a heartbeat moves last_seen on and needs the agent registered.
func (db *DB) SeeAgent(ctx context.Context, a *strata.Agent, connect bool) error {
	if a == nil || a.Name == "" || a.Pool == "" {
		return strata.Errorf(strata.EINVALID, "record agent: an agent needs a name and a pool")
	}
	n := *a
	n.LastSeen = db.orNow(n.LastSeen)
	err := db.write(ctx, func(tx *txn) error {
		if connect {
			n.ConnectedSince = n.LastSeen
			_, err := tx.Exec(ctx, `INSERT INTO agents (name, pool, version, protocol, token, connected_since, last_seen)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET pool = excluded.pool, version = excluded.version,
				protocol = excluded.protocol, token = excluded.token, connected_since = excluded.connected_since,
				last_seen = excluded.last_seen`,
				n.Name, n.Pool, n.Version, n.Protocol, n.Token, sqlrow.Nanos(n.ConnectedSince), sqlrow.Nanos(n.LastSeen))
			return err
		}
		var since int64
		err := tx.QueryRow(ctx, `UPDATE agents SET last_seen = ? WHERE name = ? RETURNING connected_since`,
			sqlrow.Nanos(n.LastSeen), n.Name).Scan(&since)
		if noRows(err) {
			return strata.Errorf(strata.ENOTFOUND, "agent %s has not registered; register first", n.Name)
		}
		n.ConnectedSince = sqlrow.FromNanos(since)
		return err
	})
	if err != nil {
		return sqlrow.Wrap(err, "record agent %s", a.Name)
	}
	*a = n
	return nil
}

// Agents returns every agent that registered, by name.
func (db *DB) Agents(ctx context.Context) ([]*strata.Agent, error) {
	return list(ctx, db, "list agents", `SELECT name, pool, version, protocol, token, connected_since, last_seen
		FROM agents ORDER BY name`+db.d.Bytewise, nil, func(s scanner) (*strata.Agent, error) {
		var a strata.Agent
		var since, seen int64
		if err := s.Scan(&a.Name, &a.Pool, &a.Version, &a.Protocol, &a.Token, &since, &seen); err != nil {
			return nil, err
		}
		a.ConnectedSince, a.LastSeen = sqlrow.FromNanos(since), sqlrow.FromNanos(seen)
		return &a, nil
	})
}

// ClaimJob gives c.Agent the oldest deployment of its pool and environments that is pending
// or whose agent's lease lapsed: the row is picked skipping rows other claimers hold locked
// (PostgreSQL), then updated compare-and-set on its fence, so that of two claimers that
// picked the same row (SQLite, where a writer holds the whole database, they cannot) one
// wins. The fence and the owner change together: the owner names the fence.
func (db *DB) ClaimJob(ctx context.Context, c strata.JobClaim, e *strata.Event) (*strata.Deployment, error) {
	if c.Agent == "" || c.Pool == "" {
		return nil, strata.Errorf(strata.EINVALID, "claim a job: name the agent and its pool")
	}
	if len(c.Envs) == 0 {
		return nil, strata.Errorf(strata.ENOTFOUND, "no deployment of pool %s waits for this agent (its token covers no environment of the pool)", c.Pool)
	}
	now := db.orNow(c.Now)
	var got *strata.Deployment
	err := db.write(ctx, func(tx *txn) error {
		got = nil
		envs, narrow := claimWhere(c, false)
		args := append([]any{c.Pool}, narrow...)
		args = append(args, sqlrow.Nanos(now))
		var id string
		var fence int64
		// "pool <> ''" is the partial index deployments_pool's own condition, written out so
		// that the planner uses it: a bound pool does not prove it, and without it the claim
		// scanned the whole history.
		err := tx.QueryRow(ctx, `SELECT id, fence FROM deployments
			WHERE pool = ? AND pool <> ''`+envs+` AND state IN ('pending', 'running')
			AND (state = 'pending' OR lease_until < ?)
			ORDER BY created_at, `+db.d.Order+` LIMIT 1`+db.d.SkipLocked, args...).Scan(&id, &fence)
		if noRows(err) {
			// Not a failure of the transaction: a writer's error rolls back the whole
			// group commit it rides in, and runs every other writer of it again alone.
			return nil
		}
		if err != nil {
			return err
		}
		owner := strata.AgentOwner(c.Agent, fence+1)
		rows, err := tx.Exec(ctx, `UPDATE deployments SET state = 'running', fence = fence + 1, agent = ?,
			attempt = CASE WHEN fence = 0 THEN attempt ELSE attempt + 1 END,
			owner_id = ?, owner_host = ?, owner_pid = 0, owner_start = ?, pgid = 0, lease_until = ?,
			started_at = ?, health = '', error = ''
			WHERE id = ? AND fence = ?`,
			c.Agent, owner.ID(), owner.Host, owner.Start, sqlrow.Nanos(c.Until), sqlrow.Nanos(now), id, fence)
		if err != nil {
			return err
		}
		if rows != 1 {
			return strata.Errorf(strata.ECONFLICT, "deployment %s was claimed by another agent first", id)
		}
		d, err := deploymentWithJob(ctx, tx, id)
		if err != nil {
			return err
		}
		got = d
		return tx.audit(ctx, e, d.ID, d.Service, d.Environment)
	})
	if err != nil {
		return nil, sqlrow.Wrap(err, "claim a job of pool %s for agent %s", c.Pool, c.Agent)
	}
	if got == nil {
		return nil, strata.Errorf(strata.ENOTFOUND, "no deployment of pool %s waits for an agent", c.Pool)
	}
	return got, nil
}

// HeldJob gives c.Agent again the deployment it holds claimed since c.Since (the newest),
// renewing its lease compare-and-set on the claim's owner: a claim whose answer was lost.
func (db *DB) HeldJob(ctx context.Context, c strata.JobClaim) (*strata.Deployment, error) {
	if c.Agent == "" || c.Pool == "" {
		return nil, strata.Errorf(strata.EINVALID, "find a held job: name the agent and its pool")
	}
	if len(c.Envs) == 0 {
		return nil, strata.Errorf(strata.ENOTFOUND, "agent %s holds no deployment (its token covers no environment of pool %s)", c.Agent, c.Pool)
	}
	now := db.orNow(c.Now)
	var got *strata.Deployment
	err := db.write(ctx, func(tx *txn) error {
		got = nil
		envs, narrow := claimWhere(c, false)
		args := append([]any{c.Pool}, narrow...)
		args = append(args, c.Agent, strata.AgentOwner(c.Agent, 0).Host, sqlrow.Nanos(now), sqlrow.Nanos(c.Since))
		var id string
		var fence int64
		// "pool <> ''" as ClaimJob's: the partial index deployments_pool's condition.
		err := tx.QueryRow(ctx, `SELECT id, fence FROM deployments
			WHERE pool = ? AND pool <> ''`+envs+` AND state = 'running' AND agent = ? AND owner_host = ?
			AND lease_until >= ? AND started_at >= ?
			ORDER BY started_at DESC, `+db.d.Order+` DESC LIMIT 1`, args...).Scan(&id, &fence)
		if noRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := tx.Exec(ctx, `UPDATE deployments SET lease_until = ? WHERE id = ? AND owner_id = ? AND state = 'running'`,
			sqlrow.Nanos(c.Until), id, strata.AgentOwner(c.Agent, fence).ID())
		if err != nil || rows != 1 {
			return err // rows 0: not this agent's claim after all; none is held
		}
		d, err := deploymentWithJob(ctx, tx, id)
		if err != nil {
			return err
		}
		got = d
		return nil
	})
	if err != nil {
		return nil, sqlrow.Wrap(err, "find the job agent %s holds", c.Agent)
	}
	if got == nil {
		return nil, strata.Errorf(strata.ENOTFOUND, "agent %s holds no deployment claimed since %s", c.Agent, c.Since.UTC().Format(time.RFC3339Nano))
	}
	return got, nil
}

// Job returns the job stored with deployment id, nil when it has none.
func (db *DB) Job(ctx context.Context, id string) ([]byte, error) {
	job, err := one(ctx, db, `SELECT job FROM deployments WHERE id = ?`, []any{id}, func(s scanner) (*string, error) {
		var job *string
		err := s.Scan(&job)
		return job, err
	})
	if noRows(err) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no deployment %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get the job of deployment %s: %w", id, err)
	}
	if job == nil {
		return nil, nil
	}
	return []byte(*job), nil
}

// claimWhere is what a claim's query adds for c: " AND environment IN (...)" unless the claim
// covers every environment of its pool, and with kinds " AND kind IN (...)" (the kinds of run
// it takes); and their arguments, in that order.
func claimWhere(c strata.JobClaim, kinds bool) (string, []any) {
	var cs conds
	if !c.AllEnvs {
		cs.in("environment", c.Envs)
	}
	if kinds {
		cs.in("kind", c.TaskKinds)
	}
	where := ""
	for _, w := range cs.where {
		where += " AND " + w
	}
	return where, cs.args
}

// deploymentWithJob reads deployment id with the job an agent runs for it.
func deploymentWithJob(ctx context.Context, tx *txn, id string) (*strata.Deployment, error) {
	d, err := scanDeployment(tx.QueryRow(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	d.Job, err = readJob(ctx, tx, "deployments", id)
	return d, err
}

// readJob reads the job of row id of table (deployments or task_runs: never a value from
// outside), nil when it has none.
func readJob(ctx context.Context, tx *txn, table, id string) ([]byte, error) {
	var job *string
	if err := tx.QueryRow(ctx, `SELECT job FROM `+table+` WHERE id = ?`, id).Scan(&job); err != nil || job == nil {
		return nil, err
	}
	return []byte(*job), nil
}
