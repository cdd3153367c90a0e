package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/strata-dev/strata"
)

// Wakes tells the parts of one process that wait on agents' work that what they wait for
// may have happened: Pending, that a deployment of a pool became pending (a held claim looks
// again at once); a report, that an agent reported one deployment (ReportedOf: the process
// that asked for that one reads its outcome at once, and no other waiter reads its own for
// nothing). Each waiter still polls the store as well, as the other side may be another
// process: a wake-up only saves the rest of a poll. The zero value is ready.
type Wakes struct {
	Pending Signal

	mu      sync.Mutex
	reports map[string]*report // by deployment, while someone waits for it
}

// report is the signal of one deployment's report and how many wait for it.
type report struct {
	Signal
	waiters int
}

// pending is w's signal of pending deployments, nil for a nil w.
func (w *Wakes) pending() *Signal {
	if w == nil {
		return nil
	}
	return &w.Pending
}

// ReportedOf wakes whoever in this process waits for the report of deployment (or task
// run) id.
func (w *Wakes) ReportedOf(id string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	r := w.reports[id]
	w.mu.Unlock()
	if r != nil {
		r.Wake()
	}
}

// awaitReport registers a waiter for deployment id's report: the signal it waits on (nil,
// never woken, for a nil w), and done, which the waiter calls when it stops waiting.
func (w *Wakes) awaitReport(id string) (s *Signal, done func()) {
	if w == nil {
		return nil, func() {}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reports == nil {
		w.reports = map[string]*report{}
	}
	r := w.reports[id]
	if r == nil {
		r = &report{}
		w.reports[id] = r
	}
	r.waiters++
	return &r.Signal, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if r.waiters--; r.waiters == 0 {
			delete(w.reports, id)
		}
	}
}

// Signal wakes its waiters of the moment. The zero value is ready; a nil *Signal wakes
// nobody and is never woken.
type Signal struct {
	mu  sync.Mutex
	ch  chan struct{}
	seq uint64
}

// Seq counts the wake-ups so far: a waiter that reads it after Wait knows which one woke it
// (0 for a nil s).
func (s *Signal) Seq() uint64 {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Wait returns a channel that is closed at the next Wake (nil, never closed, for a nil s).
func (s *Signal) Wait() <-chan struct{} {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Wake wakes every waiter of the moment.
func (s *Signal) Wake() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// queueNotice tells other processes on a store that is a strata.QueueWaker that work for
// agents was queued, without making the queueing wait: one word is in flight at a time, and
// the next one, sent when it is done, covers everything queued meanwhile. A promotion of a
// thousand environments through agents thus sends a few words, not a round trip each.
// Engines made by New share one with their copies; nil (a store that cannot tell) does
// nothing.
type queueNotice struct {
	qw strata.QueueWaker

	mu       sync.Mutex
	inFlight bool
	again    bool          // queued while a word was in flight: one more is owed
	idle     chan struct{} // closed when no word is in flight or owed (nil then)
}

// newQueueNotice returns the notice of s, nil when s cannot tell other processes.
func newQueueNotice(s strata.Store) *queueNotice {
	qw, ok := s.(strata.QueueWaker)
	if !ok {
		return nil
	}
	return &queueNotice{qw: qw}
}

// queued tells the claims held on agents that a deployment or task run of a pool was just
// queued (committed): this process's at once (Wakes), other processes' through the store.
func (e *Engine) queued() {
	e.Wakes.pending().Wake()
	e.queues.send()
}

// send has a word sent soon, without waiting for it.
func (q *queueNotice) send() {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inFlight {
		q.again = true
		return
	}
	q.inFlight, q.idle = true, make(chan struct{})
	go q.run()
}

// run sends words until none is owed.
func (q *queueNotice) run() {
	for {
		// Not the queueing's context: a command that ends (or a request that returns)
		// right after queueing still has its word sent.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := q.qw.WakeQueues(ctx); err != nil {
			// The listeners' poll finds the work all the same.
			slog.Warn("could not tell other processes of queued work; their agents find it at their next poll", "err", err)
		}
		cancel()
		q.mu.Lock()
		if !q.again {
			q.inFlight = false
			close(q.idle)
			q.idle = nil
			q.mu.Unlock()
			return
		}
		q.again = false
		q.mu.Unlock()
	}
}

// flush waits until the words owed so far are sent, or ctx ends: a process that queued
// work and does not wait for an agent calls it before it may exit.
func (q *queueNotice) flush(ctx context.Context) {
	if q == nil {
		return
	}
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	if idle == nil {
		return
	}
	select {
	case <-idle:
	case <-ctx.Done():
	}
}
