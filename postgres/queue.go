package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata"
)

var _ strata.QueueWaker = (*DB)(nil)

// Reconnection of a lost listening connection waits between attempts from listenBackoff,
// doubling up to listenBackoffMax.
const (
	listenBackoff    = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// queueChannel is the NOTIFY channel of the queues of the store in schema: a name this
// package computes from the schema (stores in other schemas of the database never hear
// each other), never a value from outside, and an identifier PostgreSQL takes as it is.
func queueChannel(schema string) string {
	return fmt.Sprintf("strata_queues_%016x", uint64(lockKey(schema, "queues")))
}

// WakeQueues tells every process listening on the store's schema that work for agents was
// queued: one NOTIFY, on one of the pool's connections.
func (db *DB) WakeQueues(ctx context.Context) error {
	if _, err := db.b.pool.Exec(ctx, `SELECT pg_notify($1, '')`, db.channel); err != nil {
		return fmt.Errorf("wake the queues of %s: %w", db.name, err)
	}
	return nil
}

// ListenQueues listens on the store's schema on a connection of its own (not one of the
// pool's), calling woken for each word and once each time it starts listening. A connection
// that fails or is lost is made again, waiting between attempts from 100ms doubling up to
// 5s (the server may be restarting). It returns nil when ctx ends, having closed its
// connection.
func (db *DB) ListenQueues(ctx context.Context, woken func()) error {
	wait := listenBackoff
	for {
		listened, err := db.listen(ctx, woken)
		if ctx.Err() != nil {
			return nil
		}
		if listened { // a lost connection, not a refused one: try again soon
			wait = listenBackoff
		}
		// db.name is the store's URL without its password, and pgconn's errors never show it.
		slog.Warn("listening for queued work stopped; connecting again", "store", db.name, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, listenBackoffMax)
	}
}

// listen connects, LISTENs, calls woken once and then for each notification until the
// connection fails or ctx ends, and says whether it listened.
func (db *DB) listen(ctx context.Context, woken func()) (listened bool, err error) {
	c, err := pgx.ConnectConfig(ctx, db.connConfig.Copy())
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", db.name, err)
	}
	defer func() {
		closing, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(closing)
	}()
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{db.channel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen on %s: %w", db.name, err)
	}
	woken()
	for {
		if _, err := c.WaitForNotification(ctx); err != nil {
			return true, fmt.Errorf("listen on %s: %w", db.name, err)
		}
		woken()
	}
}
