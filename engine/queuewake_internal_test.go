package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	base := os.Getenv("STRATA_TEST_POSTGRES")
	if base == "off" {
		t.Skip("STRATA_TEST_POSTGRES=off: no PostgreSQL store to test on")
	}
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	c, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatalf("this test needs a PostgreSQL server (or STRATA_TEST_POSTGRES=off): %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "strata_test_" + hex.EncodeToString(b[:])
	if _, err := c.Exec(t.Context(), `CREATE SCHEMA `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("STRATA_TEST_POSTGRES must be a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	db, err := postgres.Open(u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
