package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// queueBatch bounds the events one QueueWebhooks call turns into deliveries: a deliverer
// that was away a long time catches up in several calls, each a short transaction.
const queueBatch = 500

// QueueWebhooks turns the audit events appended since the cursor into deliveries, and moves
// the cursor past them, in one transaction.
func (db *DB) QueueWebhooks(ctx context.Context, actions []string, since time.Time, route func(*strata.Event) (string, []string)) (int, error) {
	if len(actions) == 0 {
		return 0, strata.Errorf(strata.EINVALID, "queue webhooks: no actions named")
	}
	queued := 0
	err := db.write(ctx, func(tx *txn) error {
		queued = 0
		var cursor, head int64
		if err := tx.QueryRow(ctx, `SELECT seq FROM webhook_cursor WHERE id = 1`+db.d.ForUpdate).Scan(&cursor); err != nil {
			return fmt.Errorf("read the webhook cursor: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&head); err != nil {
			return fmt.Errorf("read the audit log's head: %w", err)
		}
		upTo := min(head, cursor+queueBatch)
		if upTo <= cursor {
			return nil
		}
		var c conds
		c.where = append(c.where, "seq > ?", "seq <= ?", "at >= ?")
		c.args = append(c.args, cursor, upTo, sqlrow.Nanos(since))
		c.in("action", actions)
		var evs []*strata.Event
		err := each(ctx, tx, `SELECT `+eventColumns+` FROM events`+c.clause()+` ORDER BY seq`, c.args, func(s scanner) error {
			e, err := scanEvent(s)
			if err == nil {
				evs = append(evs, e)
			}
			return err
		})
		if err != nil {
			return err
		}
		now := sqlrow.Nanos(db.clock())
		for _, e := range evs {
			event, hooks := route(e)
			if event == "" {
				continue
			}
			for _, h := range hooks {
				n, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (seq, hook, event, state, next_at, updated_at)
					VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT (seq, hook) DO NOTHING`, e.Seq, h, event, now, now)
				if err != nil {
					return err
				}
				queued += int(n)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_cursor SET seq = ? WHERE id = 1`, upTo)
		return err
	})
	if err != nil {
		return 0, sqlrow.Wrap(err, "queue webhooks")
	}
	return queued, nil
}

// deliveryColumns are the columns scanDelivery reads: a delivery's, then its event's.
const deliveryColumns = `w.seq, w.hook, w.event, w.state, w.tries, w.next_at, w.error, w.claimed_by, w.claimed_until, w.updated_at,
	e.seq, e.at, e.actor, e.action, e.service, e.environment, e.subject, e.detail, e.prev, e.hash`

func scanDelivery(s scanner) (*strata.WebhookDelivery, error) {
	var d strata.WebhookDelivery
	var next, until, updated, at int64
	var e strata.Event
	var detail []byte
	err := s.Scan(&d.Seq, &d.Hook, &d.Event, &d.State, &d.Tries, &next, &d.Error, &d.ClaimedBy, &until, &updated,
		&e.Seq, &at, &e.Actor, &e.Action, &e.Service, &e.Environment, &e.Subject, &detail, &e.Prev, &e.Hash)
	if err != nil {
		return nil, err
	}
	d.NextAt, d.ClaimedUntil, d.UpdatedAt = sqlrow.FromNanos(next), sqlrow.FromNanos(until), sqlrow.FromNanos(updated)
	e.At, e.Detail = sqlrow.FromNanos(at), sqlrow.RawJSON(detail)
	d.Source = &e
	return &d, nil
}

// ClaimWebhooks claims due pending deliveries for owner until until.
func (db *DB) ClaimWebhooks(ctx context.Context, owner string, now, until time.Time, limit int) ([]*strata.WebhookDelivery, error) {
	if owner == "" || limit <= 0 {
		return nil, strata.Errorf(strata.EINVALID, "claim webhooks: an owner and a positive limit are needed")
	}
	var claimed []*strata.WebhookDelivery
	err := db.write(ctx, func(tx *txn) error {
		claimed = nil
		// The rows are locked (and others' locked rows passed over) before the join reads
		// their events: PostgreSQL locks no row of a join's nullable side, and events are
		// never changed.
		var keys [][2]any
		err := each(ctx, tx, `SELECT seq, hook FROM webhook_deliveries
			WHERE state = 'pending' AND next_at <= ? AND claimed_until < ?
			ORDER BY next_at, seq LIMIT ?`+db.d.SkipLocked, []any{sqlrow.Nanos(now), sqlrow.Nanos(now), limit},
			func(s scanner) error {
				var seq int64
				var hook string
				err := s.Scan(&seq, &hook)
				keys = append(keys, [2]any{seq, hook})
				return err
			})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ? WHERE seq = ? AND hook = ?`,
				owner, sqlrow.Nanos(until), k[0], k[1]); err != nil {
				return err
			}
			d, err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries w JOIN events e ON e.seq = w.seq
				WHERE w.seq = ? AND w.hook = ?`, k[0], k[1]))
			if err != nil {
				return err
			}
			claimed = append(claimed, d)
		}
		return nil
	})
	if err != nil {
		return nil, sqlrow.Wrap(err, "claim webhooks")
	}
	return claimed, nil
}

// FinishWebhook writes a claimed delivery's outcome and releases the claim.
func (db *DB) FinishWebhook(ctx context.Context, owner string, d *strata.WebhookDelivery) error {
	switch d.State {
	case strata.WebhookPending, strata.WebhookDelivered, strata.WebhookFailed, strata.WebhookDropped:
	default:
		return strata.Errorf(strata.EINVALID, "finish webhook %d/%s: state %q is not a delivery state", d.Seq, d.Hook, d.State)
	}
	d.UpdatedAt = db.clock()
	err := db.write(ctx, func(tx *txn) error {
		n, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET state = ?, tries = ?, next_at = ?, error = ?, claimed_by = '', claimed_until = 0,
			updated_at = ? WHERE seq = ? AND hook = ? AND claimed_by = ?`,
			d.State, d.Tries, sqlrow.Nanos(d.NextAt), d.Error, sqlrow.Nanos(d.UpdatedAt), d.Seq, d.Hook, owner)
		if err != nil {
			return err
		}
		if n == 0 {
			return strata.Errorf(strata.ECONFLICT, "delivery %d/%s is no longer claimed by %s", d.Seq, d.Hook, owner)
		}
		return nil
	})
	if err != nil {
		return sqlrow.Wrap(err, "finish webhook %d/%s", d.Seq, d.Hook)
	}
	d.ClaimedBy, d.ClaimedUntil = "", time.Time{}
	return nil
}

// WebhookDeliveries returns the newest limit deliveries, newest first.
func (db *DB) WebhookDeliveries(ctx context.Context, limit int) ([]*strata.WebhookDelivery, error) {
	if limit <= 0 {
		limit = 100
	}
	return list(ctx, db, "list webhook deliveries", `SELECT `+deliveryColumns+` FROM webhook_deliveries w JOIN events e ON e.seq = w.seq
		ORDER BY w.seq DESC, w.hook LIMIT ?`, []any{limit}, scanDelivery)
}

// CountWebhooks counts deliveries by state.
func (db *DB) CountWebhooks(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := each(ctx, db.b.Read(), `SELECT state, count(*) FROM webhook_deliveries GROUP BY state`, nil, func(s scanner) error {
		var state string
		var n int
		err := s.Scan(&state, &n)
		out[state] = n
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("count webhook deliveries: %w", err)
	}
	return out, nil
}
