package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

const deploymentColumns = `id, service, environment, version, release_id, state, attempt, kind, promotion_id,
	rollback_of, actor, config, config_hash, outputs, health, error, owner_host, owner_pid, owner_start,
	pgid, lease_until, created_at, started_at, finished_at`

// activeStates is the SQL list of states that hold a (service, environment).
const activeStates = `('pending', 'running', 'interrupted')`

// isActiveSet reports whether states are exactly the active states, in any order.
func isActiveSet(states []string) bool {
	if len(states) != 3 {
		return false
	}
	for i, s := range states {
		if !strata.Active(s) || slices.Contains(states[i+1:], s) {
			return false
		}
	}
	return true
}

// CreateDeployment records d (state pending when empty) with its owner and lease, giving it
// an ID ("d-...") and CreatedAt when they are empty, and claims its (service, environment).
// EBLOCKED, naming the holder's id, when another deployment of the pair is active; the
// check and the insert are one transaction, so two processes cannot both claim a pair.
func (db *DB) CreateDeployment(ctx context.Context, d *strata.Deployment, e *strata.Event) error {
	c, err := db.newClaim(d)
	if err != nil {
		return err
	}
	err = db.tx(ctx, func(tx *sql.Tx) error { return c.insert(ctx, tx, e) })
	return c.done(err)
}

// claim is a deployment being created: its row's JSON columns encoded once, outside the
// transaction.
type claim struct {
	db   *DB
	d    *strata.Deployment
	cols sqlrow.Columns
}

func (db *DB) newClaim(d *strata.Deployment) (*claim, error) {
	cols, err := sqlrow.NewDeployment(d)
	if err != nil {
		return nil, err
	}
	c := &claim{db: db, d: d, cols: cols}
	return c, nil
}

// insert writes the claim in tx, with its event. On success it fills the claim's
// deployment (ID, CreatedAt).
func (c *claim) insert(ctx context.Context, tx *sql.Tx, e *strata.Event) error {
	n, err := c.row(ctx, tx)
	if err != nil {
		return err
	}
	if err := c.db.audit(ctx, tx, e, n.ID, n.Service, n.Environment); err != nil {
		return err
	}
	*c.d = n
	return nil
}

// row inserts the claim's row in tx and returns the deployment as stored.
func (c *claim) row(ctx context.Context, tx *sql.Tx) (strata.Deployment, error) {
	db := c.db
	n := *c.d
	if n.ID == "" {
		n.ID = sqlrow.NewID("d-")
	}
	n.CreatedAt = db.orNow(n.CreatedAt)
	_, err := db.exec(ctx, tx, `INSERT INTO deployments (`+deploymentColumns+`, owner_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.Service, n.Environment, n.Version, n.ReleaseID, n.State, n.Attempt, n.Kind, n.PromotionID,
		n.RollbackOf, n.Actor, c.cols.Config, n.ConfigHash, c.cols.Outputs, n.Health, n.Error,
		n.Owner.Host, n.Owner.PID, n.Owner.Start, n.PGID, sqlrow.Nanos(n.LeaseUntil),
		sqlrow.Nanos(n.CreatedAt), sqlrow.Nanos(n.StartedAt), sqlrow.Nanos(n.FinishedAt), n.Owner.ID())
	if isUnique(err) {
		if strings.Contains(err.Error(), "deployments.id") {
			return n, strata.Errorf(strata.ECONFLICT, "deployment %s exists already", n.ID)
		}
		// The partial unique index on active deployments is the claim: the INSERT
		// fails, rather than a SELECT before it, so a claim costs one statement.
		if err := db.holder(ctx, tx, n.Service, n.Environment); err != nil {
			return n, err
		}
		return n, strata.Errorf(strata.EBLOCKED, "%s is being deployed to %s already", n.Service, n.Environment)
	}
	return n, err
}

// done wraps the error of a claim's transaction.
func (c *claim) done(err error) error {
	return sqlrow.Wrap(err, "create deployment of %s to %s", c.d.Service, c.d.Environment)
}

// FinishAndCreate writes done's update and next's claim in one transaction. A claim that
// fails on the pair's unique index leaves the transaction usable (SQLite undoes the failed
// statement alone), so done's update commits; any other failure of the claim fails both.
func (db *DB) FinishAndCreate(ctx context.Context, done *strata.Deployment, doneEvent *strata.Event, next *strata.Deployment, nextEvent *strata.Event) (claimErr, err error) {
	u, err := db.newUpdate(done)
	if err != nil {
		return nil, err
	}
	c, cerr := db.newClaim(next)
	var claimed strata.Deployment
	err = db.tx(ctx, func(tx *sql.Tx) error {
		claimErr = cerr
		finish, err := u.row(ctx, tx, doneEvent)
		if err != nil {
			return err
		}
		if cerr != nil {
			return db.auditAll(ctx, tx, finish)
		}
		claimed, err = c.row(ctx, tx)
		if code := strata.ErrorCode(err); code == strata.EBLOCKED || code == strata.ECONFLICT {
			claimErr = c.done(err)
			return db.auditAll(ctx, tx, finish)
		}
		if err != nil {
			return c.done(err) // it fails both: say which part failed
		}
		// Both events in one statement.
		return db.auditAll(ctx, tx, finish, audited{nextEvent, claimed.ID, claimed.Service, claimed.Environment})
	})
	if err != nil {
		return nil, u.failed(err)
	}
	u.apply()
	if claimErr == nil {
		*next = claimed
	}
	return claimErr, nil
}

// holder returns EBLOCKED naming the active deployment of (service, env), if there is one.
func (db *DB) holder(ctx context.Context, tx *sql.Tx, service, env string) error {
	var id, version, owner string
	var created, started int64
	err := db.queryRow(ctx, tx, `SELECT id, version, owner_id, created_at, started_at FROM deployments
		WHERE service = ? AND environment = ? AND state IN `+activeStates+` LIMIT 1`, service, env).
		Scan(&id, &version, &owner, &created, &started)
	if errors.Is(err, sql.ErrNoRows) {
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
	if err := db.tx(ctx, func(tx *sql.Tx) error { return u.write(ctx, tx, e) }); err != nil {
		return u.failed(err)
	}
	u.apply()
	return nil
}

// update is a deployment's new state, its JSON columns encoded once, outside the transaction.
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

// write runs the update in tx, compare-and-set on the stored owner, with its event.
func (u *update) write(ctx context.Context, tx *sql.Tx, e *strata.Event) error {
	a, err := u.row(ctx, tx, e)
	if err != nil {
		return err
	}
	return u.db.auditAll(ctx, tx, a)
}

// row runs the update in tx and returns its event, ready to append: the event takes its
// service and environment from the stored row when it does not name them.
func (u *update) row(ctx context.Context, tx *sql.Tx, e *strata.Event) (audited, error) {
	db, d, n := u.db, u.d, u.n
	// No RETURNING: SQLite gathers returned rows in a temporary table, which made this the
	// dearest statement of a deployment.
	res, err := db.exec(ctx, tx, `UPDATE deployments SET state = ?, attempt = ?, config = ?, config_hash = ?,
		outputs = ?, health = ?, error = ?, owner_id = ?, owner_host = ?, owner_pid = ?, owner_start = ?,
		pgid = ?, lease_until = ?, started_at = ?, finished_at = ?
		WHERE id = ? AND owner_id = ?`,
		n.State, n.Attempt, u.cols.Config, n.ConfigHash, u.cols.Outputs, n.Health, n.Error, n.Owner.ID(), n.Owner.Host,
		n.Owner.PID, n.Owner.Start, n.PGID, sqlrow.Nanos(n.LeaseUntil), sqlrow.Nanos(n.StartedAt), sqlrow.Nanos(n.FinishedAt),
		n.ID, d.Owner.ID())
	if isUnique(err) {
		if err := db.holder(ctx, tx, d.Service, d.Environment); err != nil {
			return audited{}, err
		}
		return audited{}, strata.Errorf(strata.EBLOCKED, "%s is being deployed to %s already", d.Service, d.Environment)
	}
	if err != nil {
		return audited{}, err
	}
	if rows, err := res.RowsAffected(); err != nil {
		return audited{}, err
	} else if rows == 0 {
		return audited{}, db.lost(ctx, tx, d.ID, d.Owner)
	}
	a := audited{e: e, subject: n.ID}
	if e != nil && (e.Service == "" || e.Environment == "") {
		if err := db.queryRow(ctx, tx, `SELECT service, environment FROM deployments WHERE id = ?`, n.ID).Scan(&a.service, &a.env); err != nil {
			return audited{}, err
		}
	}
	return a, nil
}

// failed wraps the error of an update's transaction.
func (u *update) failed(err error) error { return sqlrow.Wrap(err, "update deployment %s", u.d.ID) }

// apply gives the caller's deployment what was stored, once it has committed.
func (u *update) apply() { *u.d = *u.n }

// lost explains why a compare-and-set on deployment id's owner matched nothing: ENOTFOUND,
// or ECONFLICT naming who holds it now.
func (db *DB) lost(ctx context.Context, tx *sql.Tx, id string, owner strata.Owner) error {
	var now, state string
	err := db.queryRow(ctx, tx, `SELECT owner_id, state FROM deployments WHERE id = ?`, id).Scan(&now, &state)
	if errors.Is(err, sql.ErrNoRows) {
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
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := db.exec(ctx, tx, `UPDATE deployments SET lease_until = ?
			WHERE id = ? AND owner_id = ? AND owner_id <> '' AND state IN `+activeStates,
			sqlrow.Nanos(until), id, owner.ID())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		if owner.ID() == "" {
			return strata.Errorf(strata.ECONFLICT, "renew lease of deployment %s: no owner given", id)
		}
		return db.lost(ctx, tx, id, owner)
	})
	return sqlrow.Wrap(err, "renew lease of deployment %s", id)
}

// TakeOver makes to the owner of an active deployment whose current owner is from (compare
// and set), marking it interrupted with a lease until until and no process group. The
// attempt is kept: the engine counts attempts. ECONFLICT when someone else took it first or
// it has ended; ENOTFOUND when there is no such deployment.
func (db *DB) TakeOver(ctx context.Context, id string, from, to strata.Owner, until time.Time, e *strata.Event) error {
	if to.ID() == "" {
		return strata.Errorf(strata.EINVALID, "take over deployment %s: the new owner has no host", id)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var service, env string
		err := db.queryRow(ctx, tx, `UPDATE deployments SET state = 'interrupted', owner_id = ?, owner_host = ?,
			owner_pid = ?, owner_start = ?, pgid = 0, lease_until = ?
			WHERE id = ? AND owner_id = ? AND state IN `+activeStates+` RETURNING service, environment`,
			to.ID(), to.Host, to.PID, to.Start, sqlrow.Nanos(until), id, from.ID()).Scan(&service, &env)
		if errors.Is(err, sql.ErrNoRows) {
			return db.lost(ctx, tx, id, from)
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
	d, err := scanDeployment(db.read.QueryRowContext(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no deployment %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get deployment %s: %w", id, err)
	}
	return d, nil
}

// Deployments returns the deployments f selects, newest first. With f.Latest it finds the
// pairs in the index deployments_pair alone, reading no row, and for each pair walks an
// index back from its newest entry to the first row the other fields select: a row or a
// few per pair, where ranking the whole history (a window function) read every row of it.
func (db *DB) Deployments(ctx context.Context, f strata.DeploymentFilter) ([]*strata.Deployment, error) {
	q, args := deploymentsQuery(f)
	return list(ctx, db, "list deployments", q, args, scanDeployment)
}

// deploymentsQuery is the query Deployments runs for f, and its arguments.
func deploymentsQuery(f strata.DeploymentFilter) (string, []any) {
	var c conds
	c.equal("service", f.Service)
	c.equal("environment", f.Environment)
	c.equal("version", f.Version)
	c.equal("promotion_id", f.PromotionID)
	if f.PromotionID != "" {
		// The partial index deployments_promotion holds only rows with a promotion; the
		// planner uses it only when the query says so in the index's own words.
		c.where = append(c.where, "promotion_id <> ''")
	}
	from := ` FROM deployments`
	if isActiveSet(f.States) {
		// The active deployments are a handful in a history of any size: the partial index
		// deployments_claim holds just them, and is used when the query names the states as
		// it does (without statistics the planner would rather walk the history in order).
		c.where = append(c.where, "state IN "+activeStates)
		from += ` INDEXED BY deployments_claim`
	} else {
		c.in("state", f.States)
	}
	q := `SELECT ` + deploymentColumns + from + c.clause()
	args := c.args
	if f.Latest {
		var pairs conds
		pairs.equal("service", f.Service)
		pairs.equal("environment", f.Environment)
		// Unqualified columns in the correlated subquery are its own table's.
		c.where = append(c.where, "service = p.service", "environment = p.environment")
		q = `SELECT ` + deploymentColumns + ` FROM deployments WHERE rowid IN (
			SELECT (SELECT rowid FROM deployments` + c.clause() + ` ORDER BY created_at DESC, rowid DESC LIMIT 1)
			FROM (SELECT DISTINCT service, environment FROM deployments` + pairs.clause() + `) AS p)`
		args = append(c.args, pairs.args...)
	}
	q += ` ORDER BY created_at DESC, rowid DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args
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
	if d.Outputs, err = outputsFromJSON(outputs); err != nil {
		return nil, fmt.Errorf("deployment %s: outputs: %w", d.ID, err)
	}
	d.LeaseUntil, d.CreatedAt = sqlrow.FromNanos(lease), sqlrow.FromNanos(created)
	d.StartedAt, d.FinishedAt = sqlrow.FromNanos(started), sqlrow.FromNanos(finished)
	return &d, nil
}
