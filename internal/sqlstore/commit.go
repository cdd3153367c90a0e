package sqlstore

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"

	"github.com/strata-dev/strata/telemetry"
	"go.opentelemetry.io/otel/trace"
)

// Group commit. Every write of this process goes through one transaction at a time, so
// concurrent writers (the deployments of a wave) would commit one after another, a
// transaction each. Instead a writer that finds a transaction running queues its work, and
// whoever runs the next one runs everything queued in it: one commit (and on PostgreSQL one
// wait for the audit lock and one read of the log's head) for the lot. Every writer returns
// only after the transaction holding its work has committed, so "committed before the side
// effect it announces" holds as for a transaction of its own.
//
// A batch runs optimistically, without a savepoint per writer (two statements each, which
// cost as much as a writer's own work): when one writer's work fails, the whole transaction
// is rolled back and each writer's work runs again alone, so the failing one fails alone and
// the others commit. A writer's work may therefore run twice; it sets the Go values it fills
// (ids, times, sequence numbers) rather than accumulating them, and keeps what it reports to
// its caller until its transaction has committed.

// txn is the transaction a batch of writers shares, and what they learnt in it.
type txn struct {
	Tx
	db *DB
	// locked says the audit lock is held; head is the log's newest event in this
	// transaction, once read or appended.
	locked bool
	head   *eventHead
}

// job is one writer's work waiting for the transaction.
type job struct {
	ctx  context.Context
	fn   func(tx *txn) error
	done chan outcome
	// planned, when not nil, is fn's quick way, which the batch may send with others'
	// (pipeline.go).
	planned *planned
}

// outcome is what a waiting writer is told: its work's result, or that it is now the one
// to run the queue (lead).
type outcome struct {
	err  error
	lead bool
}

// committer is the queue of writers; running says someone is running it. twice, for tests,
// runs and rolls back every writer's work once before it runs for real.
type committer struct {
	mu      sync.Mutex
	queue   []*job
	running bool
	twice   bool
}

// write runs fn in a write transaction, perhaps with other writers' work, and returns once
// it has committed, or with fn's error after fn's work was rolled back. fn may run more than
// once.
func (db *DB) write(ctx context.Context, fn func(tx *txn) error) (err error) {
	if trace.SpanFromContext(ctx).IsRecording() {
		// A span per store call, named after the Store method that wrote (read only when
		// a trace records: the lookup is not free on the hot path).
		var span trace.Span
		ctx, span = telemetry.Start(ctx, "store "+caller())
		defer func() { telemetry.End(span, err) }()
	}
	return db.submit(&job{ctx: ctx, fn: fn})
}

// submit queues j and returns once its work has committed or failed, as write does.
func (db *DB) submit(j *job) error {
	j.done = make(chan outcome, 1)
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
	twice := c.twice
	c.mu.Unlock()
	if twice {
		for _, j := range batch {
			db.rehearse(j)
		}
	}
	db.commitBatch(batch)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		c.running = false
		return
	}
	c.queue[0].done <- outcome{lead: true}
}

// commitBatch runs a batch in one transaction. A batch of one runs as a plain transaction,
// unless its quick way can go at once: then it goes as a batch does, where the commit may
// ride with its statements (pipeAll).
func (db *DB) commitBatch(batch []*job) {
	if len(batch) == 1 && !db.quick(batch[0]) {
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

// quick reports whether j's quick way would go in one round trip: it has one that has not
// diverged, and the audit log's head is trusted.
func (db *DB) quick(j *job) bool {
	return j.planned != nil && !j.planned.diverged && db.d.TrustHead && db.head != nil
}

// begin starts a transaction for a batch.
func (db *DB) begin(ctx context.Context) (*txn, error) {
	tx, err := db.b.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx, db: db}, nil
}

// runAll runs every job of batch in one transaction and commits it. It reports false, having
// rolled everything back, when any job's work or the transaction itself failed. A job whose
// context has ended is skipped (it did nothing) and told so.
func (db *DB) runAll(batch []*job) ([]error, bool) {
	ctx := context.Background()
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, false
	}
	results := make([]error, len(batch))
	if piped, err := db.pipeAll(tx, batch); piped {
		if err != nil {
			db.rollback(ctx, tx)
			return nil, false
		}
		return db.commitAll(ctx, tx, results)
	}
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := j.fn(tx); err != nil {
			db.rollback(ctx, tx)
			return nil, false
		}
	}
	return db.commitAll(ctx, tx, results)
}

// commitAll commits a batch's transaction and reports its jobs' results, or false.
func (db *DB) commitAll(ctx context.Context, tx *txn, results []error) ([]error, bool) {
	if err := tx.Commit(ctx); err != nil {
		db.head = nil
		return nil, false
	}
	db.committed(tx)
	return results, true
}

// runOne runs one job in its own transaction, again while it meets a trusted audit head
// that another process has moved (a few times: the head is read on the next run) or its
// pipeline diverged (once: the next run is careful, pipeline.go).
func (db *DB) runOne(j *job) error {
	for range 3 {
		if err := db.runOnce(j); !errors.Is(err, errStaleHead) && !errors.Is(err, errDiverged) {
			return err
		}
	}
	return db.runOnce(j)
}

// runOnce runs one job in its own transaction.
func (db *DB) runOnce(j *job) error {
	if err := j.ctx.Err(); err != nil {
		return err
	}
	tx, err := db.begin(j.ctx)
	if err != nil {
		return err
	}
	if err := j.fn(tx); err != nil {
		db.rollback(j.ctx, tx)
		return err
	}
	if err := tx.Commit(j.ctx); err != nil {
		db.head = nil
		return err
	}
	db.committed(tx)
	return nil
}

// rehearse runs j's work in a transaction it then rolls back, as a batch that failed
// would: the careful way, and then the quick way when it has one (pipeline.go), so that a test of every store
// method proves each writer's work, both ways, safe to run again. The audit head is kept
// across the rehearsal: nothing it did stands, so the head is what it was, and the real run
// goes the way it would have gone.
func (db *DB) rehearse(j *job) {
	if j.ctx.Err() != nil {
		return
	}
	head := db.head
	defer func() { db.head = head }()
	tx, err := db.begin(j.ctx)
	if err != nil {
		return
	}
	if j.planned == nil {
		j.fn(tx)
		db.rollback(j.ctx, tx)
		return
	}
	j.planned.careful(tx)
	db.rollback(j.ctx, tx)
	if j.planned.diverged {
		return
	}
	db.head = head
	if tx, err = db.begin(j.ctx); err != nil {
		return
	}
	stmts, as := j.planned.plan()
	tx.pipeline(j.ctx, stmts, as...)
	db.rollback(j.ctx, tx)
}

// rollback undoes tx, and with it the audit head it may have moved.
func (db *DB) rollback(ctx context.Context, tx *txn) {
	tx.Rollback(context.WithoutCancel(ctx))
	db.head = nil
}

// committed keeps the audit head tx appended, where the dialect trusts it across
// transactions.
func (db *DB) committed(tx *txn) {
	if db.d.TrustHead && tx.head != nil {
		db.head = tx.head
	}
}

// RehearseWriters makes every writer's work run once, and be rolled back, before it runs
// for real, as it does when another writer of its batch fails. It is for tests: the store's
// contract suite run so proves that each method's work is safe to run twice.
func (db *DB) RehearseWriters() {
	db.commit.mu.Lock()
	db.commit.twice = true
	db.commit.mu.Unlock()
}

// caller names the exported Store method that called write ("CreateDeployment").
func caller() string {
	pc, _, _, ok := runtime.Caller(2)
	if !ok {
		return "write"
	}
	name := runtime.FuncForPC(pc).Name()
	return name[strings.LastIndexByte(name, '.')+1:]
}
