package engine

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testpg"

	"github.com/strata-dev/strata/postgres"
)

// heldWaker is a PostgreSQL store whose first WakeQueues waits for release, counting the
// words sent.
type heldWaker struct {
	*postgres.DB
	release chan struct{}
	began   atomic.Int64
	sent    atomic.Int64
}

func (w *heldWaker) WakeQueues(ctx context.Context) error {
	if w.began.Add(1) == 1 {
		<-w.release
	}
	defer w.sent.Add(1)
	return w.DB.WakeQueues(ctx)
}

func TestWorkQueuedWhileAWordIsInFlightIsCoveredByOneMore(t *testing.T) {
	w := &heldWaker{DB: openPostgres(t), release: make(chan struct{})}
	q := newQueueNotice(w)
	if q == nil {
		t.Fatal("a PostgreSQL store gave no notice: it is a QueueWaker")
	}
	q.send()
	for deadline := time.Now().Add(30 * time.Second); w.began.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first word was never sent")
		}
	}
	// A thousand environments queued while the first word is held: none of them waits.
	for range 1000 {
		q.send()
	}
	close(w.release)
	q.flush(t.Context())
	if got := w.sent.Load(); got != 2 {
		t.Errorf("%d words sent for 1,001 queueings, want 2 (the first, and one for those queued meanwhile)", got)
	}
	q.flush(t.Context()) // nothing owed: returns at once
	if q.idle != nil || q.inFlight {
		t.Errorf("the notice is still busy after its words were sent")
	}
	if newQueueNotice(nil) != nil {
		t.Errorf("a store that is no QueueWaker gave a notice")
	}
	var none *queueNotice
	none.send()
	none.flush(t.Context())
}

// openPostgres opens a store in a new schema of the test PostgreSQL server, both gone when
// t ends; skipped with STRATA_TEST_POSTGRES=off.
func openPostgres(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(testpg.Schema(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
