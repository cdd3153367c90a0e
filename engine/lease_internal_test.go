package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// TestARenewalThatFailsIsTriedSoonAndTheWorkerFencesItselfBeforeTheLeaseLapses: with a 30s
// lease, a worker renews every 10s; a failed renewal is tried again 2s later, never past the
// point 5s before the lease lapses, where it stops its work; a conflict stops it at once.
func TestARenewalThatFailsIsTriedSoonAndTheWorkerFencesItselfBeforeTheLeaseLapses(t *testing.T) {
	ttl := 30 * time.Second
	t0 := time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)
	until := t0.Add(ttl) // renewed last at t0
	cut := errors.New("dial tcp: connect: network is unreachable")
	cases := []struct {
		name      string
		at        time.Duration // after t0
		err       error
		wantWait  time.Duration
		wantFence bool
	}{
		{"a renewal that succeeded waits a third of the lease", 10 * time.Second, nil, 10 * time.Second, false},
		{"a renewal cut off is tried again two seconds later", 10 * time.Second, cut, 2 * time.Second, false},
		{"and again while the lease has time", 20 * time.Second, cut, 2 * time.Second, false},
		{"the last try is at the fencing point, not past it", 24 * time.Second, cut, time.Second, false},
		{"at the fencing point the worker stops its work", 25 * time.Second, cut, 0, true},
		{"past it too (a renewal that hung)", 31 * time.Second, cut, 0, true},
		{"another owner holds the work: stop at once", 10 * time.Second, strata.Errorf(strata.ECONFLICT, "held by agent b"), 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := until
			if c.err == nil {
				u = t0.Add(c.at + ttl)
			}
			wait, fence := renewWait(t0.Add(c.at), u, ttl, c.err)
			if wait != c.wantWait || fence != c.wantFence {
				t.Errorf("renewWait: wait %s fence %v, want wait %s fence %v", wait, fence, c.wantWait, c.wantFence)
			}
		})
	}
}
