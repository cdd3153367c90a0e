package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

const deploymentColumns = `id, service, environment, version, release_id, state, attempt, kind, promotion_id,
	rollback_of, actor, config, config_hash, outputs, health, error, owner_host, owner_pid, owner_start,
	pgid, lease_until, created_at, started_at, finished_at`

// activeStates is the SQL list of states that hold a (service, environment).
const activeStates = `('pending', 'running', 'interrupted')`

// errHeld says an insert or update lost a (service, environment) to another deployment; the
// caller names the holder once the failed transaction has ended.
var errHeld = errors.New("the pair is held")

// CreateDeployment records d (state pending when empty) with its owner and lease, giving it
// an ID ("d-...") and CreatedAt when they are empty, and claims its (service, environment).
// EBLOCKED, naming the holder's id, when another deployment of the pair is active.
func (db *DB) CreateDeployment(ctx context.Context, d *strata.Deployment, e *strata.Event) error {
	c, err := db.newClaim(d)
	if err != nil {
		return err
	}
	err = db.tx(ctx, func(tx pgx.Tx) error { return c.insert(ctx, tx, e) })
	return c.done(ctx, err)
}

// claim is a deployment being created, its row prepared outside the transaction.
type claim struct {
	db   *DB
	d, n *strata.Deployment // as the caller has it, and as it will be stored
	cols sqlrow.Columns
}

func (db *DB) newClaim(d *strata.Deployment) (*claim, error) {
	cols, err := sqlrow.NewDeployment(d)
	if err != nil {
		return nil, err
	}
	c := &claim{db: db, d: d, cols: cols}
	n := *d
	if n.ID == "" {
		n.ID = sqlrow.NewID("d-")
	}
	n.CreatedAt = db.orNow(n.CreatedAt)
	c.n = &n
	return c, nil
}

// insert writes the claim in tx. errHeld when another deployment holds the pair.
func (c *claim) insert(ctx context.Context, tx pgx.Tx, e *strata.Event) error {
	n := c.n
	if strata.Active(n.State) {
		if err := holder(ctx, tx, n.Service, n.Environment); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO deployments (`+deploymentColumns+`, owner_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
		n.ID, n.Service, n.Environment, n.Version, n.ReleaseID, n.State, n.Attempt, n.Kind, n.PromotionID,
		n.RollbackOf, n.Actor, c.cols.Config, n.ConfigHash, c.cols.Outputs, n.Health, n.Error,
		n.Owner.Host, n.Owner.PID, n.Owner.Start, n.PGID, sqlrow.Nanos(n.LeaseUntil),
		sqlrow.Nanos(n.CreatedAt), sqlrow.Nanos(n.StartedAt), sqlrow.Nanos(n.FinishedAt), n.Owner.ID())
	if isUnique(err, "deployments_pkey") {
		return strata.Errorf(strata.ECONFLICT, "deployment %s exists already", n.ID)
	}
	if isUnique(err) {
		return errHeld
	}
	if err != nil {
		return err
	}
	return c.db.audit(ctx, tx, e, n.ID, n.Service, n.Environment)
}

// done finishes a claim after its transaction: the holder named when the pair was held,
// the error wrapped, or the caller's deployment filled.
func (c *claim) done(ctx context.Context, err error) error {
	if errors.Is(err, errHeld) {
		err = c.db.held(ctx, c.n.Service, c.n.Environment)
	}
	if err != nil {
		return sqlrow.Wrap(err, "create deployment of %s to %s", c.d.Service, c.d.Environment)
	}
	*c.d = *c.n
	return nil
}

// FinishAndCreate writes done's update and next's claim in one transaction; the claim runs
// in a savepoint, so that when it fails (PostgreSQL aborts the statement's transaction)
// done's update still commits.
func (db *DB) FinishAndCreate(ctx context.Context, done *strata.Deployment, doneEvent *strata.Event, next *strata.Deployment, nextEvent *strata.Event) (claimErr, err error) {
	u, err := db.newUpdate(done)
	if err != nil {
		return nil, err
	}
	c, cerr := db.newClaim(next)
	var claimed error
	err = db.tx(ctx, func(tx pgx.Tx) error {
		claimed = cerr
		if err := u.write(ctx, tx, doneEvent); err != nil {
			return err
		}
		if cerr != nil {
			return nil
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		err = c.insert(ctx, sp, nextEvent)
		if code := strata.ErrorCode(err); errors.Is(err, errHeld) || code == strata.EBLOCKED || code == strata.ECONFLICT {
			claimed = err
			return sp.Rollback(ctx)
		}
		if err != nil {
			return err
		}
		return sp.Commit(ctx)
	})
	if err != nil {
		return nil, u.failed(ctx, err)
	}
	u.apply()
	if cerr != nil {
		return cerr, nil
	}
	return c.done(ctx, claimed), nil
}

// held returns EBLOCKED naming the deployment that holds (service, env), read after the
// transaction that lost the pair to it has ended.
func (db *DB) held(ctx context.Context, service, env string) error {
	err := db.withConn(ctx, func(c *pgx.Conn) error { return holder(ctx, c, service, env) })
	if err == nil {
		// The holder ended between our failed claim and this look: still, we lost the race.
		err = strata.Errorf(strata.EBLOCKED, "%s is being deployed to %s already", service, env)
	}
	return err
}

// holder returns EBLOCKED naming the active deployment of (service, env), if there is one.
func holder(ctx context.Context, q querier, service, env string) error {
	var id, version, owner string
	var created, started int64
	err := q.QueryRow(ctx, `SELECT id, version, owner_id, created_at, started_at FROM deployments
		WHERE service = $1 AND environment = $2 AND state IN `+activeStates+` LIMIT 1`, service, env).
		Scan(&id, &version, &owner, &created, &started)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if owner == "" {
		owner = "none"
	}
	since := created
	if started != 0 {
		since = started
	}
	return strata.Errorf(strata.EBLOCKED, "%s is deploying %s@%s to %s (owner %s, since %s)",
		id, service, version, env, owner, sqlrow.FromNanos(since).Format(time.RFC3339))
}

// UpdateDeployment writes d's mutable fields (state, attempt, config, config hash, outputs,
// health, error, owner, pgid, lease, started and finished times), comparing the stored owner
// with d.Owner. A final state clears owner, pgid and lease (in d too) and sets FinishedAt
// when it is zero. ECONFLICT when the stored owner is not d.Owner; ENOTFOUND when there is no
// such deployment; EBLOCKED when d would become active while another deployment holds the pair.
func (db *DB) UpdateDeployment(ctx context.Context, d *strata.Deployment, e *strata.Event) error {
	u, err := db.newUpdate(d)
	if err != nil {
		return err
	}
	if err := db.tx(ctx, func(tx pgx.Tx) error { return u.write(ctx, tx, e) }); err != nil {
		return u.failed(ctx, err)
	}
	u.apply()
	return nil
}

// update is a deployment's new state, prepared outside the transaction.
type update struct {
	db   *DB
	d, n *strata.Deployment // as the caller has it, and as it will be stored
	cols sqlrow.Columns
}

func (db *DB) newUpdate(d *strata.Deployment) (*update, error) {
	n, cols, err := sqlrow.UpdatedDeployment(d, db.orNow)
	if err != nil {
		return nil, err
	}
	return &update{db: db, d: d, n: n, cols: cols}, nil
}

// write runs the update in tx, compare-and-set on the stored owner. errHeld when d would
// become active while another deployment holds the pair.
func (u *update) write(ctx context.Context, tx pgx.Tx, e *strata.Event) error {
	d, n := u.d, u.n
	var service, env string
	err := tx.QueryRow(ctx, `UPDATE deployments SET state = $1, attempt = $2, config = $3, config_hash = $4,
		outputs = $5, health = $6, error = $7, owner_id = $8, owner_host = $9, owner_pid = $10, owner_start = $11,
		pgid = $12, lease_until = $13, started_at = $14, finished_at = $15
		WHERE id = $16 AND owner_id = $17 RETURNING service, environment`,
		n.State, n.Attempt, u.cols.Config, n.ConfigHash, u.cols.Outputs, n.Health, n.Error, n.Owner.ID(), n.Owner.Host,
		n.Owner.PID, n.Owner.Start, n.PGID, sqlrow.Nanos(n.LeaseUntil), sqlrow.Nanos(n.StartedAt), sqlrow.Nanos(n.FinishedAt),
		n.ID, d.Owner.ID()).Scan(&service, &env)
	if errors.Is(err, pgx.ErrNoRows) {
		return lost(ctx, tx, d.ID, d.Owner)
	}
	if isUnique(err) {
		return errHeld
	}
	if err != nil {
		return err
	}
	return u.db.audit(ctx, tx, e, n.ID, service, env)
}

// failed explains and wraps the error of an update's transaction.
func (u *update) failed(ctx context.Context, err error) error {
	if errors.Is(err, errHeld) {
		err = u.db.held(ctx, u.d.Service, u.d.Environment)
	}
	return sqlrow.Wrap(err, "update deployment %s", u.d.ID)
}

// apply gives the caller's deployment what was stored, once it has committed.
func (u *update) apply() { *u.d = *u.n }

// lost explains why a compare-and-set on deployment id's owner matched nothing: ENOTFOUND,
// or ECONFLICT naming who holds it now.
func lost(ctx context.Context, q querier, id string, owner strata.Owner) error {
	var now, state string
	err := q.QueryRow(ctx, `SELECT owner_id, state FROM deployments WHERE id = $1`, id).Scan(&now, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return strata.Errorf(strata.ENOTFOUND, "no deployment %s", id)
	}
	if err != nil {
		return err
	}
	if !strata.Active(state) {
		return strata.Errorf(strata.ECONFLICT, "deployment %s has ended (%s)", id, state)
	}
	if now == "" {
		now = "no one"
	}
	mine := owner.ID()
	if mine == "" {
		mine = "no one"
	}
	return strata.Errorf(strata.ECONFLICT, "deployment %s is held by %s, not %s", id, now, mine)
}

// RenewLease extends an active deployment's lease to until. ECONFLICT when owner no longer
// holds it (or it has ended); ENOTFOUND when there is no such deployment.
func (db *DB) RenewLease(ctx context.Context, id string, owner strata.Owner, until time.Time) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE deployments SET lease_until = $1
			WHERE id = $2 AND owner_id = $3 AND owner_id <> '' AND state IN `+activeStates,
			sqlrow.Nanos(until), id, owner.ID())
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		if owner.ID() == "" {
			return strata.Errorf(strata.ECONFLICT, "renew lease of deployment %s: no owner given", id)
		}
		return lost(ctx, tx, id, owner)
	})
	return sqlrow.Wrap(err, "renew lease of deployment %s", id)
}

// TakeOver makes to the owner of an active deployment whose current owner is from (compare
// and set), marking it interrupted with a lease until until and no process group. The
// attempt is kept: the engine counts attempts. Of concurrent takers the first to update the
// row wins; the others' UPDATE re-reads it after waiting, no longer matches from, and they
// get ECONFLICT. ECONFLICT also when it has ended; ENOTFOUND when there is no such deployment.
func (db *DB) TakeOver(ctx context.Context, id string, from, to strata.Owner, until time.Time, e *strata.Event) error {
	if to.ID() == "" {
		return strata.Errorf(strata.EINVALID, "take over deployment %s: the new owner has no host", id)
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var service, env string
		err := tx.QueryRow(ctx, `UPDATE deployments SET state = 'interrupted', owner_id = $1, owner_host = $2,
			owner_pid = $3, owner_start = $4, pgid = 0, lease_until = $5
			WHERE id = $6 AND owner_id = $7 AND state IN `+activeStates+` RETURNING service, environment`,
			to.ID(), to.Host, to.PID, to.Start, sqlrow.Nanos(until), id, from.ID()).Scan(&service, &env)
		if errors.Is(err, pgx.ErrNoRows) {
			return lost(ctx, tx, id, from)
		}
		if err != nil {
			return err
		}
		return db.audit(ctx, tx, e, id, service, env)
	})
	return sqlrow.Wrap(err, "take over deployment %s", id)
}

// Deployment returns one deployment; ENOTFOUND when there is none.
func (db *DB) Deployment(ctx context.Context, id string) (*strata.Deployment, error) {
	d, err := one(ctx, db, `SELECT `+deploymentColumns+` FROM deployments WHERE id = $1`, []any{id}, scanDeployment)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no deployment %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get deployment %s: %w", id, err)
	}
	return d, nil
}

// Deployments returns the deployments f selects, newest first. With f.Latest it finds the
// pairs in the index deployments_pair and, for each pair, walks an index back from its
// newest entry to the first row the other fields select: a row or a few per pair, where
// DISTINCT ON or a window function sorted every row of the history.
func (db *DB) Deployments(ctx context.Context, f strata.DeploymentFilter) ([]*strata.Deployment, error) {
	var c conds
	c.equal("service", f.Service)
	c.equal("environment", f.Environment)
	pairs := c.clause() // binds nothing new: the pairs reuse the service's and environment's $n
	c.equal("version", f.Version)
	c.equal("promotion_id", f.PromotionID)
	c.in("state", f.States)
	q := `SELECT ` + deploymentColumns + ` FROM deployments` + c.clause()
	if f.Latest {
		// Unqualified columns in the correlated subquery are its own table's.
		c.where = append(c.where, "service = p.service", "environment = p.environment")
		q = `SELECT ` + deploymentColumns + ` FROM deployments WHERE n IN (
			SELECT (SELECT n FROM deployments` + c.clause() + ` ORDER BY created_at DESC, n DESC LIMIT 1)
			FROM (SELECT DISTINCT service, environment FROM deployments` + pairs + `) AS p)`
	}
	q += ` ORDER BY created_at DESC, n DESC` + c.limit(f.Limit)
	return list(ctx, db, "list deployments", q, c.args, scanDeployment)
}

func scanDeployment(s scanner) (*strata.Deployment, error) {
	var d strata.Deployment
	var config, outputs *string
	var lease, created, started, finished int64
	err := s.Scan(&d.ID, &d.Service, &d.Environment, &d.Version, &d.ReleaseID, &d.State, &d.Attempt, &d.Kind,
		&d.PromotionID, &d.RollbackOf, &d.Actor, &config, &d.ConfigHash, &outputs, &d.Health, &d.Error,
		&d.Owner.Host, &d.Owner.PID, &d.Owner.Start, &d.PGID, &lease, &created, &started, &finished)
	if err != nil {
		return nil, err
	}
	if d.Config, err = sqlrow.ConfigFromJSON(config); err != nil {
		return nil, fmt.Errorf("deployment %s: config: %w", d.ID, err)
	}
	if err := fromJSON(outputs, &d.Outputs); err != nil {
		return nil, fmt.Errorf("deployment %s: outputs: %w", d.ID, err)
	}
	d.LeaseUntil, d.CreatedAt = sqlrow.FromNanos(lease), sqlrow.FromNanos(created)
	d.StartedAt, d.FinishedAt = sqlrow.FromNanos(started), sqlrow.FromNanos(finished)
	return &d, nil
}
