package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/sqlite"
)

// Concurrent writers share transactions (group commit): a writer whose work fails must be
// rolled back alone, every other writer's work and audit event must land, and the hash
// chain must stay whole.
func TestConcurrentWritersThatFailAreRolledBackAlone(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "state.db"))
	ctx := context.Background()
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every even writer reuses the version of the writer before it: exactly one of
			// each pair wins, the other is a conflict.
			v := fmt.Sprintf("%d", i/2)
			r := &strata.Release{Service: "api", Version: v, Digest: fmt.Sprintf("sha256:%d", i), CreatedBy: "ann"}
			errs[i] = db.CreateRelease(ctx, r, &strata.Event{Actor: "ann", Action: "release", Service: "api"})
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch strata.ErrorCode(err) {
		case "":
			won++
		case strata.ECONFLICT:
		default:
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if won != n/2 {
		t.Fatalf("%d writers won; want one of each pair, %d", won, n/2)
	}
	rs, err := db.Releases(ctx, "api")
	if err != nil || len(rs) != n/2 {
		t.Fatalf("releases = %d, %v; want %d", len(rs), err, n/2)
	}
	events, err := db.Events(ctx, strata.EventFilter{})
	if err != nil || len(events) != n/2 {
		t.Fatalf("events = %d, %v; want one per winner, %d", len(events), err, n/2)
	}
	prev := ""
	for i, e := range events {
		if e.Seq != int64(i+1) || e.Prev != prev || e.ComputeHash(prev) != e.Hash {
			t.Fatalf("event %d breaks the chain (seq %d)", i+1, e.Seq)
		}
		prev = e.Hash
	}
}

// Each handle remembers the audit head it appended last; when another handle (another
// process) appended since, its next event must still follow the true head.
func TestHandlesTakingTurnsKeepOneAuditChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	a, b := open(t, path), open(t, path)
	ctx := context.Background()
	for i, db := range []*sqlite.DB{a, a, b, a, b, b, a} {
		if err := db.AppendEvent(ctx, &strata.Event{Actor: fmt.Sprint("writer-", i), Action: "note"}); err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
	}
	events, err := a.Events(ctx, strata.EventFilter{})
	if err != nil || len(events) != 7 {
		t.Fatalf("events = %d, %v; want 7", len(events), err)
	}
	prev := ""
	for i, e := range events {
		if e.Seq != int64(i+1) || e.Actor != fmt.Sprint("writer-", i) || e.Prev != prev || e.ComputeHash(prev) != e.Hash {
			t.Fatalf("event %d (seq %d, by %s) breaks the chain", i+1, e.Seq, e.Actor)
		}
		prev = e.Hash
	}
}
