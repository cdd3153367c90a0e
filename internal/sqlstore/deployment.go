package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

const deploymentColumns = `id, service, environment, version, release_id, state, attempt, kind, promotion_id,
	rollback_of, actor, config, config_hash, outputs, health, error, owner_host, owner_pid, owner_start,
	pgid, lease_until, created_at, started_at, finished_at, pool, agent, fence`

// activeStates is the SQL list of states that hold a (service, environment).
const activeStates = `('pending', 'running', 'interrupted')`

// errHeld says an update lost a (service, environment) to another deployment; the caller
// names the holder once the failed transaction has ended.
var errHeld = errors.New("the pair is held")

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
// claim and the insert are one statement, backed by a partial unique index, so two
// processes cannot both claim a pair.
func (db *DB) CreateDeployment(ctx context.Context, d *strata.Deployment, e *strata.Event) error {
	c, err := db.newClaim(d)
	if err != nil {
		return err
	}
	var n strata.Deployment
	err = db.writePlanned(ctx, &planned{
		plan: func() ([]Stmt, []audited) {
			n = c.n
			return []Stmt{c.stmt()}, []audited{c.audited(e)}
		},
		careful: func(tx *txn) error {
			var err error
			if n, err = c.row(ctx, tx); err != nil {
				return err
			}
			return tx.auditAll(ctx, c.audited(e))
		},
	})
	if err != nil {
		return c.failed(err)
	}
	*d = n
	return nil
}

// claim is a deployment being created: its id, times and JSON columns settled once,
// outside the transaction, so that work run twice writes (and audits) the same row.
type claim struct {
	db   *DB
	d    *strata.Deployment
	n    strata.Deployment // as it will be stored
	cols sqlrow.Columns
}

func (db *DB) newClaim(d *strata.Deployment) (*claim, error) {
	cols, err := sqlrow.NewDeployment(d)
	if err != nil {
		return nil, err
	}
	c := &claim{db: db, d: d, n: *d, cols: cols}
	if c.n.ID == "" {
		c.n.ID = sqlrow.NewID("d-")
	}
	c.n.CreatedAt = db.orNow(c.n.CreatedAt)
	return c, nil
}

// stmt is the insert of the claim's row, which changes no row when the claim is refused.
func (c *claim) stmt() Stmt {
	n := c.n
	return Stmt{Q: `INSERT INTO deployments (` + deploymentColumns + `, owner_id, job)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		Args: []any{n.ID, n.Service, n.Environment, n.Version, n.ReleaseID, n.State, n.Attempt, n.Kind, n.PromotionID,
			n.RollbackOf, n.Actor, c.cols.Config, n.ConfigHash, c.cols.Outputs, n.Health, n.Error,
			n.Owner.Host, n.Owner.PID, n.Owner.Start, n.PGID, sqlrow.Nanos(n.LeaseUntil),
			sqlrow.Nanos(n.CreatedAt), sqlrow.Nanos(n.StartedAt), sqlrow.Nanos(n.FinishedAt), n.Pool, n.Agent, n.Fence,
			n.Owner.ID(), c.job()}}
}

// audited is e, the claim's event, about the deployment claimed.
func (c *claim) audited(e *strata.Event) audited {
	return audited{e, c.n.ID, c.n.Service, c.n.Environment}
}

// row inserts the claim's row in tx and returns the deployment as stored. A claim refused
// (EBLOCKED naming the holder, ECONFLICT for a taken id) leaves tx usable: the insert does
// nothing on a conflict rather than failing, so the transaction goes on to read the winner
// (whose commit the insert waited for) and name it.
func (c *claim) row(ctx context.Context, tx *txn) (strata.Deployment, error) {
	n := c.n
	s := c.stmt()
	rows, err := tx.Exec(ctx, s.Q, s.Args...)
	if err != nil || rows == 1 {
		return n, err
	}
	if strata.Active(n.State) {
		if err := holder(ctx, tx, n.Service, n.Environment); err != nil {
			return n, err
		}
	}
	var one int
	if err := tx.QueryRow(ctx, `SELECT 1 FROM deployments WHERE id = ?`, n.ID).Scan(&one); err == nil {
		return n, strata.Errorf(strata.ECONFLICT, "deployment %s exists already", n.ID)
	} else if !noRows(err) {
		return n, err
	}
	// The holder ended between our insert and this look: still, we lost the race.
	return n, strata.Errorf(strata.EBLOCKED, "%s is being deployed to %s already", n.Service, n.Environment)
}

// job is the claim's job column: NULL for a deployment no agent runs.
func (c *claim) job() any {
	if len(c.n.Job) == 0 {
		return nil
	}
	return string(c.n.Job)
}

// failed wraps the error of a claim's transaction.
func (c *claim) failed(err error) error {
	return sqlrow.Wrap(err, "create deployment of %s to %s", c.d.Service, c.d.Environment)
}

// FinishAndCreate writes done's update and next's claim in one transaction. A refused
// claim leaves the transaction usable (claim.row), so done's update commits and the claim's
// failure is returned as a *strata.ClaimError; any other failure of the claim fails both.
// The quick way sends the update, the claim and both events at once (pipeline.go).
func (db *DB) FinishAndCreate(ctx context.Context, done *strata.Deployment, doneEvent *strata.Event, next *strata.Deployment, nextEvent *strata.Event) error {
	u, err := db.newUpdate(done)
	if err != nil {
		return err
	}
	c, cerr := db.newClaim(next)
	if cerr != nil {
		if err := db.UpdateDeployment(ctx, done, doneEvent); err != nil {
			return err
		}
		return &strata.ClaimError{Err: cerr}
	}
	var claimErr error
	var claimed strata.Deployment
	plan := func() ([]Stmt, []audited) {
		claimErr, claimed = nil, c.n
		return []Stmt{u.stmt(), c.stmt()}, []audited{u.audited(doneEvent), c.audited(nextEvent)}
	}
	careful := func(tx *txn) error {
		claimErr = nil
		finish, err := u.row(ctx, tx, doneEvent)
		if err != nil {
			return err
		}
		claimed, err = c.row(ctx, tx)
		if code := strata.ErrorCode(err); code == strata.EBLOCKED || code == strata.ECONFLICT {
			claimErr = c.failed(err)
			return tx.auditAll(ctx, finish)
		}
		if err != nil {
			return c.failed(err) // it fails both: say which part failed
		}
		// Both events in one statement.
		return tx.auditAll(ctx, finish, c.audited(nextEvent))
	}
	if u.named(doneEvent) {
		err = db.writePlanned(ctx, &planned{plan: plan, careful: careful})
	} else {
		err = db.write(ctx, careful)
	}
	if err != nil {
		return u.failed(ctx, err)
	}
	u.apply()
	if claimErr != nil {
		return &strata.ClaimError{Err: claimErr}
	}
	*next = claimed
	return nil
}

// holder returns EBLOCKED naming the active deployment of (service, env), if there is one.
func holder(ctx context.Context, q Querier, service, env string) error {
	var id, version, owner string
	var created, started int64
	err := q.QueryRow(ctx, `SELECT id, version, owner_id, created_at, started_at FROM deployments
		WHERE service = ? AND environment = ? AND state IN `+activeStates+` LIMIT 1`, service, env).
		Scan(&id, &version, &owner, &created, &started)
	if noRows(err) {
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
	careful := func(tx *txn) error {
		a, err := u.row(ctx, tx, e)
		if err != nil {
			return err
		}
		return tx.auditAll(ctx, a)
	}
	if u.named(e) {
		err = db.writePlanned(ctx, &planned{careful: careful, plan: func() ([]Stmt, []audited) {
			return []Stmt{u.stmt()}, []audited{u.audited(e)}
		}})
	} else {
		err = db.write(ctx, careful)
	}
	if err != nil {
		return u.failed(ctx, err)
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

// row runs the update in tx, compare-and-set on the stored owner, and returns its event,
// ready to append: the event takes its service and environment from the stored row when it
// does not name them. errHeld when d would become active while another deployment holds
// the pair.
func (u *update) row(ctx context.Context, tx *txn, e *strata.Event) (audited, error) {
	d, n := u.d, u.n
	s := u.stmt()
	rows, err := tx.Exec(ctx, s.Q, s.Args...)
	if u.db.d.IsUnique(err) {
		return audited{}, errHeld
	}
	if err != nil {
		return audited{}, err
	}
	if rows == 0 {
		return audited{}, lost(ctx, tx, d.ID, d.Owner)
	}
	a := audited{e: e, subject: n.ID}
	if e != nil && (e.Service == "" || e.Environment == "") {
		if err := tx.QueryRow(ctx, `SELECT service, environment FROM deployments WHERE id = ?`, n.ID).Scan(&a.service, &a.env); err != nil {
			return audited{}, err
		}
	}
	return a, nil
}

// stmt is the update, compare-and-set on the stored owner: it changes no row when the
// deployment is gone or another owner holds it.
func (u *update) stmt() Stmt {
	d, n := u.d, u.n
	// No RETURNING: SQLite gathers returned rows in a temporary table, which made this the
	// dearest statement of a deployment; the engine's events name their pair anyway.
	return Stmt{Q: `UPDATE deployments SET state = ?, attempt = ?, config = ?, config_hash = ?,
		outputs = ?, health = ?, error = ?, owner_id = ?, owner_host = ?, owner_pid = ?, owner_start = ?,
		pgid = ?, lease_until = ?, started_at = ?, finished_at = ?
		WHERE id = ? AND owner_id = ?`,
		Args: []any{n.State, n.Attempt, u.cols.Config, n.ConfigHash, u.cols.Outputs, n.Health, n.Error, n.Owner.ID(), n.Owner.Host,
			n.Owner.PID, n.Owner.Start, n.PGID, sqlrow.Nanos(n.LeaseUntil), sqlrow.Nanos(n.StartedAt), sqlrow.Nanos(n.FinishedAt),
			n.ID, d.Owner.ID()}}
}

// named reports whether e, the update's event, needs nothing read from the stored row, so
// that the update and its event may be sent at once: it is nil or names its service and
// environment (the engine's events do).
func (u *update) named(e *strata.Event) bool {
	return e == nil || (e.Service != "" && e.Environment != "")
}

// audited is e, the update's event, about the deployment updated.
func (u *update) audited(e *strata.Event) audited {
	return audited{e: e, subject: u.n.ID}
}

// failed explains and wraps the error of an update's transaction: a pair lost to another
// deployment is read, naming it, once the transaction has ended (a failed statement may
// have ended it).
func (u *update) failed(ctx context.Context, err error) error {
	if errors.Is(err, errHeld) {
		err = holder(ctx, u.db.b.Read(), u.d.Service, u.d.Environment)
		if err == nil {
			// The holder ended between our update and this look: still, we lost the race.
			err = strata.Errorf(strata.EBLOCKED, "%s is being deployed to %s already", u.d.Service, u.d.Environment)
		}
	}
	return sqlrow.Wrap(err, "update deployment %s", u.d.ID)
}

// apply gives the caller's deployment what was stored, once it has committed.
func (u *update) apply() { *u.d = *u.n }

// lost explains why a compare-and-set on deployment id's owner matched nothing: ENOTFOUND,
// or ECONFLICT naming who holds it now.
func lost(ctx context.Context, q Querier, id string, owner strata.Owner) error {
	var now, state string
	err := q.QueryRow(ctx, `SELECT owner_id, state FROM deployments WHERE id = ?`, id).Scan(&now, &state)
	if noRows(err) {
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
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, `UPDATE deployments SET lease_until = ?
			WHERE id = ? AND owner_id = ? AND owner_id <> '' AND state IN `+activeStates,
			sqlrow.Nanos(until), id, owner.ID())
		if err != nil || n == 1 {
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
// row wins; the others' UPDATE no longer matches from, and they get ECONFLICT. ECONFLICT
// also when it has ended; ENOTFOUND when there is no such deployment.
func (db *DB) TakeOver(ctx context.Context, id string, from, to strata.Owner, until time.Time, e *strata.Event) error {
	if to.ID() == "" {
		return strata.Errorf(strata.EINVALID, "take over deployment %s: the new owner has no host", id)
	}
	err := db.write(ctx, func(tx *txn) error {
		var service, env string
		err := tx.QueryRow(ctx, `UPDATE deployments SET state = 'interrupted', owner_id = ?, owner_host = ?,
			owner_pid = ?, owner_start = ?, pgid = 0, lease_until = ?
			WHERE id = ? AND owner_id = ? AND state IN `+activeStates+` RETURNING service, environment`,
			to.ID(), to.Host, to.PID, to.Start, sqlrow.Nanos(until), id, from.ID()).Scan(&service, &env)
		if noRows(err) {
			return lost(ctx, tx, id, from)
		}
		if err != nil {
			return err
		}
		return tx.audit(ctx, e, id, service, env)
	})
	return sqlrow.Wrap(err, "take over deployment %s", id)
}

// ReclaimLapsed takes over, for to, up to limit active deployments whose lease ended before
// now (oldest lease first), marking each interrupted with a lease until until, as TakeOver
// does, and auditing each with event(d) when event is not nil. It is how agents on many
// machines share out the deployments of owners that stopped renewing: where rows are locked
// one by one they are claimed skipping locked ones, so reclaimers running at once each take
// different deployments rather than queueing on the same ones. Deployments owned on to's own
// host are left alone (to included): there a dead process, not a lease, says the owner is
// gone, and the caller judges them by that. So are deployments of a pool: an agent's claim
// takes those over (ClaimJob).
//
// It returns the deployments taken as they were before, so that the caller knows each
// previous owner and process group (to stop what is left of them) and resumes each as its
// next attempt. EINVALID when to has no host.
func (db *DB) ReclaimLapsed(ctx context.Context, to strata.Owner, now, until time.Time, limit int,
	event func(d *strata.Deployment) *strata.Event) ([]*strata.Deployment, error) {
	if to.ID() == "" {
		return nil, strata.Errorf(strata.EINVALID, "reclaim lapsed deployments: the new owner has no host")
	}
	if limit <= 0 {
		limit = 100
	}
	var taken []*strata.Deployment
	err := db.write(ctx, func(tx *txn) error {
		taken = nil
		err := each(ctx, tx, `SELECT `+deploymentColumns+` FROM deployments
			WHERE state IN `+activeStates+` AND pool = '' AND lease_until < ? AND owner_host <> ?
			ORDER BY lease_until, `+db.d.Order+` LIMIT ?`+db.d.SkipLocked, []any{sqlrow.Nanos(now), to.Host, limit},
			func(s scanner) error {
				d, err := scanDeployment(s)
				if err == nil {
					taken = append(taken, d)
				}
				return err
			})
		if err != nil {
			return err
		}
		for _, d := range taken {
			_, err := tx.Exec(ctx, `UPDATE deployments SET state = 'interrupted', owner_id = ?, owner_host = ?,
				owner_pid = ?, owner_start = ?, pgid = 0, lease_until = ? WHERE id = ?`,
				to.ID(), to.Host, to.PID, to.Start, sqlrow.Nanos(until), d.ID)
			if err != nil {
				return err
			}
			if event != nil {
				if err := tx.audit(ctx, event(d), d.ID, d.Service, d.Environment); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, sqlrow.Wrap(err, "reclaim lapsed deployments")
	}
	return taken, nil
}

// Deployment returns one deployment; ENOTFOUND when there is none.
func (db *DB) Deployment(ctx context.Context, id string) (*strata.Deployment, error) {
	return byID(ctx, db, "deployment", id, `SELECT `+deploymentColumns+` FROM deployments WHERE id = ?`, scanDeployment)
}

// Deployments returns the deployments f selects, newest first. With f.Latest it finds the
// pairs in the index deployments_pair alone, reading no row, and for each pair walks an
// index back from its newest entry to the first row the other fields select: a row or a
// few per pair, where ranking the whole history (a window function) read every row of it.
func (db *DB) Deployments(ctx context.Context, f strata.DeploymentFilter) ([]*strata.Deployment, error) {
	q, args := DeploymentsQuery(db.d, f)
	return list(ctx, db, "list deployments", q, args, scanDeployment)
}

// DeploymentsQuery is the query Deployments runs for f in dialect d, and its arguments:
// exported for the adapters' tests that ask their database how it would run it.
func DeploymentsQuery(d Dialect, f strata.DeploymentFilter) (string, []any) {
	return deploymentsQuery(d, f, false)
}

// ScanDeployments calls fn with each deployment f selects, oldest first, one row at a
// time from the database. ErrStopScan from fn ends it early.
func (db *DB) ScanDeployments(ctx context.Context, f strata.DeploymentFilter, fn func(*strata.Deployment) error) error {
	q, args := deploymentsQuery(db.d, f, true)
	err := each(ctx, db.b.Read(), q, args, func(s scanner) error {
		d, err := scanDeployment(s)
		if err != nil {
			return fmt.Errorf("scan deployments: %w", err)
		}
		return fn(d)
	})
	if errors.Is(err, strata.ErrStopScan) {
		return nil
	}
	return err
}

// deploymentsQuery is DeploymentsQuery, oldest first when oldestFirst.
func deploymentsQuery(d Dialect, f strata.DeploymentFilter, oldestFirst bool) (string, []any) {
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
		// it does.
		c.where = append(c.where, "state IN "+activeStates)
		from += d.ActiveIndex
	} else {
		c.in("state", f.States)
	}
	if !f.Since.IsZero() {
		c.where = append(c.where, "created_at >= ?")
		c.args = append(c.args, sqlrow.Nanos(f.Since))
	}
	if f.Before != "" && !f.Latest {
		// Row values order as the list does: by created time, then by insertion.
		c.where = append(c.where, "(created_at, "+d.Order+") < (SELECT created_at, "+d.Order+" FROM deployments WHERE id = ?)")
		c.args = append(c.args, f.Before)
	}
	q := `SELECT ` + deploymentColumns + from + c.clause()
	args := c.args
	if f.Latest {
		var pairs conds
		pairs.equal("service", f.Service)
		pairs.equal("environment", f.Environment)
		// Unqualified columns in the correlated subquery are its own table's.
		c.where = append(c.where, "service = p.service", "environment = p.environment")
		q = `SELECT ` + deploymentColumns + ` FROM deployments WHERE ` + d.Order + ` IN (
			SELECT (SELECT ` + d.Order + ` FROM deployments` + c.clause() + ` ORDER BY created_at DESC, ` + d.Order + ` DESC LIMIT 1)
			FROM (SELECT DISTINCT service, environment FROM deployments` + pairs.clause() + `) AS p)`
		args = append(c.args, pairs.args...)
	}
	if oldestFirst {
		q += ` ORDER BY created_at, ` + d.Order
	} else {
		q += ` ORDER BY created_at DESC, ` + d.Order + ` DESC`
	}
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
		&d.Owner.Host, &d.Owner.PID, &d.Owner.Start, &d.PGID, &lease, &created, &started, &finished,
		&d.Pool, &d.Agent, &d.Fence)
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
