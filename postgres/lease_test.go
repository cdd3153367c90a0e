package postgres_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/postgres"
)

// lapsedEstate records three deployments whose leases ended before now and one whose lease
// runs on, in environments a to d, and returns now.
func lapsedEstate(t *testing.T, db *postgres.DB) time.Time {
	t.Helper()
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	leases := []time.Duration{-3 * time.Minute, -2 * time.Minute, -time.Minute, time.Minute}
	for i, lease := range leases {
		d := &strata.Deployment{Service: "api", Environment: string(rune('a' + i)), Version: "1", State: strata.Running,
			Owner: strata.Owner{Host: "gone", PID: 10 + i, Start: 1}, PGID: 10 + i, LeaseUntil: now.Add(lease)}
		if err := db.CreateDeployment(t.Context(), d, nil); err != nil {
			t.Fatal(err)
		}
	}
	return now
}

func envsOf(ds []*strata.Deployment) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Environment)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestReclaimLapsed(t *testing.T) {
	agent := func(n int) strata.Owner { return strata.Owner{Host: fmt.Sprint("agent-", n), PID: n, Start: 1} }
	takeover := func(d *strata.Deployment) *strata.Event {
		return &strata.Event{Actor: "agent", Action: "deployment.interrupted"}
	}

	t.Run("takes the deployments whose lease lapsed, oldest first, and leaves the rest", func(t *testing.T) {
		_, u := migrated(t)
		db := open(t, u)
		now := lapsedEstate(t, db)
		until := now.Add(time.Minute)
		got, err := db.ReclaimLapsed(t.Context(), agent(1), now, until, 2, takeover)
		if err != nil {
			t.Fatal(err)
		}
		if envsOf(got) != "a b" || got[0].Owner.Host != "gone" || got[0].PGID != 10 {
			t.Fatalf("reclaimed %q (first %+v), want a and b as they were", envsOf(got), got[0])
		}
		rest, err := db.ReclaimLapsed(t.Context(), agent(1), now, until, 0, takeover)
		if err != nil || envsOf(rest) != "c" {
			t.Fatalf("second reclaim = %q, %v; want c only", envsOf(rest), err)
		}
		d, err := db.Deployment(t.Context(), got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != strata.Interrupted || d.Owner != agent(1) || d.PGID != 0 || !d.LeaseUntil.Equal(until) {
			t.Errorf("reclaimed deployment = %s owned by %+v, pgid %d, lease %v", d.State, d.Owner, d.PGID, d.LeaseUntil)
		}
		evs, err := db.Events(t.Context(), strata.EventFilter{Action: "deployment.interrupted"})
		if err != nil || len(evs) != 3 || evs[0].Subject != got[0].ID || evs[0].Environment != "a" {
			t.Errorf("events = %+v, %v; want one per reclaimed deployment", evs, err)
		}
	})

	t.Run("reclaimers at once share the lapsed deployments out, none twice", func(t *testing.T) {
		_, u := migrated(t)
		dbs := []*postgres.DB{open(t, u), open(t, u), open(t, u)}
		now := lapsedEstate(t, dbs[0])
		var wg sync.WaitGroup
		var mu sync.Mutex
		var all []*strata.Deployment
		for i, db := range dbs {
			wg.Go(func() {
				got, err := db.ReclaimLapsed(t.Context(), agent(i), now, now.Add(time.Minute), 1, takeover)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				all = append(all, got...)
				mu.Unlock()
			})
		}
		wg.Wait()
		if envsOf(all) != "a b c" {
			t.Errorf("reclaimed %q, want a, b and c once each", envsOf(all))
		}
	})

	t.Run("a row another reclaimer holds is skipped, not waited for", func(t *testing.T) {
		name, u := migrated(t)
		db := open(t, u)
		now := lapsedEstate(t, db)
		c := admin(t)
		exec(t, c, `SET search_path TO `+name)
		tx, err := c.Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		if _, err := tx.Exec(t.Context(), `SELECT id FROM deployments WHERE environment = 'a' FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		got, err := db.ReclaimLapsed(ctx, agent(1), now, now.Add(time.Minute), 0, takeover)
		if err != nil || envsOf(got) != "b c" {
			t.Fatalf("reclaim beside a held row = %q, %v; want b and c at once", envsOf(got), err)
		}
	})

	t.Run("deployments whose owner is on the reclaimer's own host are left to it", func(t *testing.T) {
		_, u := migrated(t)
		db := open(t, u)
		now := lapsedEstate(t, db)
		// There a dead process, not a lease, says the owner is gone: the caller judges it.
		got, err := db.ReclaimLapsed(t.Context(), strata.Owner{Host: "gone", PID: 99, Start: 1}, now, now.Add(time.Minute), 0, takeover)
		if err != nil || len(got) != 0 {
			t.Fatalf("reclaim on the owners' host = %q, %v; want none", envsOf(got), err)
		}
	})

	t.Run("a new owner without a host is refused", func(t *testing.T) {
		_, u := migrated(t)
		db := open(t, u)
		_, err := db.ReclaimLapsed(t.Context(), strata.Owner{}, time.Now(), time.Now(), 1, nil)
		if strata.ErrorCode(err) != strata.EINVALID {
			t.Fatalf("err = %v, want EINVALID", err)
		}
	})
}
