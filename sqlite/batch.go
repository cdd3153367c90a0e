package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// Group commit. Every write of this process goes through one connection, so concurrent
// writers (the deployments of a wave) used to commit one after another, a transaction each.
// Now a writer that finds the connection busy queues its work, and whoever holds the
// connection runs everything queued in one transaction. Every writer returns only after the
// transaction holding its work has committed, so "committed before the side effect it
// announces" holds as before.
//
// A batch runs optimistically, without a savepoint per writer (two statements each, which
// cost as much as a writer's own work): when one writer's work fails, the whole transaction
// is rolled back and each writer's work runs again alone, so the failing one fails alone and
// the others commit. A writer's fn may therefore run twice; it sets the Go values it fills
// (ids, times, sequence numbers) rather than accumulating them.

// job is one writer's work waiting for the write connection.
type job struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan outcome
}

// outcome is what a waiting writer is told: its work's result, or that it is now the one
// to run the queue (lead).
type outcome struct {
	err  error
	lead bool
}

// committer is the queue of writers; running says someone is running it.
type committer struct {
	mu      sync.Mutex
	queue   []*job
	running bool
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE, so it queues for the write lock
// instead of failing when another process writes) and returns once it has committed, or
// with fn's error after fn's work was rolled back.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	j := &job{ctx: ctx, fn: fn, done: make(chan outcome, 1)}
	c := &db.commit
	c.mu.Lock()
	c.queue = append(c.queue, j)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if lead {
		db.lead()
	}
	for {
		o := <-j.done
		if !o.lead {
			return o.err
		}
		db.lead()
	}
}

// lead commits everything queued as one batch, then hands the queue to the next writer
// waiting in it (so no writer runs other writers' work for long), or marks it idle.
func (db *DB) lead() {
	c := &db.commit
	c.mu.Lock()
	batch := c.queue
	c.queue = nil
	c.mu.Unlock()
	db.commitBatch(batch)
	db.prepareWanted()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		c.running = false
		return
	}
	c.queue[0].done <- outcome{lead: true}
}

// commitBatch runs a batch in one transaction. A batch of one runs as a plain transaction.
func (db *DB) commitBatch(batch []*job) {
	if len(batch) == 1 {
		j := batch[0]
		j.done <- outcome{err: db.runOne(j)}
		return
	}
	results, ok := db.runAll(batch)
	if !ok {
		// One writer's work failed, or the transaction did: everyone's runs again alone.
		for _, j := range batch {
			j.done <- outcome{err: db.runOne(j)}
		}
		return
	}
	for i, j := range batch {
		j.done <- outcome{err: results[i]}
	}
}

// runAll runs every job of batch in one transaction and commits it. It reports false, having
// rolled everything back, when any job's work or the transaction itself failed. A job whose
// context has ended is skipped (it did nothing) and told so.
func (db *DB) runAll(batch []*job) ([]error, bool) {
	tx, err := db.write.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, false
	}
	results := make([]error, len(batch))
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := j.fn(tx); err != nil {
			db.rollback(tx)
			return nil, false
		}
	}
	if err := tx.Commit(); err != nil {
		db.head = nil
		return nil, false
	}
	return results, true
}

// runOne runs one job in its own transaction.
func (db *DB) runOne(j *job) error {
	if err := j.ctx.Err(); err != nil {
		return err
	}
	tx, err := db.write.BeginTx(j.ctx, nil)
	if err != nil {
		return err
	}
	if err := j.fn(tx); err != nil {
		db.rollback(tx)
		return err
	}
	if err := tx.Commit(); err != nil {
		db.head = nil
		return err
	}
	return nil
}

// rollback undoes tx, and with it the audit head it may have moved.
func (db *DB) rollback(tx *sql.Tx) {
	tx.Rollback()
	db.head = nil
}
