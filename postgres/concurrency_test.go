package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/postgres"
	"github.com/strata-dev/strata/storetest"
)

// Each DB below has its own connections, so these tests contend as separate processes
// (or machines) sharing one schema do.

func TestHandlesOpeningANewStoreAtOnceAllSucceed(t *testing.T) {
	_, u := schema(t)
	const n = 6
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(u, storetest.Ticking()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d of %d at once: %v", i+1, n, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	for i, db := range dbs {
		if err := db.AppendEvent(t.Context(), &strata.Event{Actor: "a", Action: fmt.Sprint("open-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := dbs[0].Events(t.Context(), strata.EventFilter{})
	if err != nil || len(evs) != n {
		t.Fatalf("events = %d, %v; want %d in one chain", len(evs), err, n)
	}
}

func TestTheAuditChainHasNoGapsUnderConcurrentWriters(t *testing.T) {
	_, u := migrated(t)
	dbs := []*postgres.DB{open(t, u), open(t, u), open(t, u)}
	const writers, each = 12, 10
	var wg sync.WaitGroup
	for w := range writers {
		db := dbs[w%len(dbs)]
		wg.Go(func() {
			for i := range each {
				var err error
				switch i % 3 {
				case 0:
					err = db.AppendEvent(t.Context(), &strata.Event{Actor: "w", Action: "note"})
				case 1:
					err = db.CreateRelease(t.Context(), &strata.Release{Service: fmt.Sprint("s", w), Version: fmt.Sprint(i)},
						&strata.Event{Actor: "w", Action: "release"})
				case 2:
					err = db.SetFreeze(t.Context(), fmt.Sprint("env-", w), &strata.Freeze{Reason: "r"}, &strata.Event{Actor: "w", Action: "freeze"})
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	evs, err := dbs[1].Events(t.Context(), strata.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != writers*each {
		t.Fatalf("%d events, want %d", len(evs), writers*each)
	}
	prev := ""
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.Prev != prev || e.ComputeHash(prev) != e.Hash {
			t.Fatalf("event %d: seq %d, prev %.8s (want %.8s), hash ok %v", i+1, e.Seq, e.Prev, prev, e.ComputeHash(prev) == e.Hash)
		}
		prev = e.Hash
	}
}

func TestHandlesClaimingOnePairExcludeEachOther(t *testing.T) {
	_, u := migrated(t)
	a, b := open(t, u), open(t, u)
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []*strata.Deployment
	for i := range 16 {
		db := []*postgres.DB{a, b}[i%2]
		wg.Go(func() {
			d := &strata.Deployment{Service: "api", Environment: "prod", State: strata.Running,
				Owner: strata.Owner{Host: "h", PID: i + 1, Start: 1}, LeaseUntil: until}
			err := db.CreateDeployment(t.Context(), d, &strata.Event{Actor: "w", Action: "deploy"})
			mu.Lock()
			defer mu.Unlock()
			switch strata.ErrorCode(err) {
			case "":
				won = append(won, d)
			case strata.EBLOCKED:
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d claims won across two handles, want 1", len(won))
	}

	// Its lease lapses: of many hosts taking it over at once, one does.
	d := won[0]
	var takers sync.WaitGroup
	taken := make(chan int, 16)
	for i := range 16 {
		db := []*postgres.DB{a, b}[i%2]
		takers.Go(func() {
			to := strata.Owner{Host: fmt.Sprint("other-", i), PID: 1, Start: 1}
			err := db.TakeOver(t.Context(), d.ID, d.Owner, to, until, &strata.Event{Actor: "w", Action: "deploy.takeover"})
			switch strata.ErrorCode(err) {
			case "":
				taken <- i
			case strata.ECONFLICT:
			default:
				t.Error(err)
			}
		})
	}
	takers.Wait()
	close(taken)
	if len(taken) != 1 {
		t.Fatalf("%d take-overs won, want 1", len(taken))
	}
	evs, err := b.Events(t.Context(), strata.EventFilter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("events = %d, %v; want the claim and the take-over", len(evs), err)
	}
}
