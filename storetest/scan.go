package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

func testScanEvents(t *testing.T, open func(t *testing.T) strata.Store) {
	// Six events: two of prod, one of dev, two that name no environment, one of prod again.
	fill := func(t *testing.T) strata.Store {
		s := open(t)
		for _, env := range []string{"prod", "prod", "dev", "", "", "prod"} {
			must(t, s.AppendEvent(ctx(t), &strata.Event{Actor: "a", Action: "x", Environment: env}))
		}
		return s
	}
	seqs := func(t *testing.T, s strata.Store, f strata.EventFilter, newestFirst bool, stopAfter int) string {
		t.Helper()
		var got []string
		err := s.ScanEvents(ctx(t), f, newestFirst, func(e *strata.Event) error {
			got = append(got, fmt.Sprint(e.Seq))
			if len(got) == stopAfter {
				return strata.ErrStopScan
			}
			return nil
		})
		must(t, err)
		return strings.Join(got, " ")
	}
	tests := []struct {
		name        string
		f           strata.EventFilter
		newestFirst bool
		stopAfter   int
		want        string
	}{
		{"every event, oldest first", strata.EventFilter{}, false, 0, "1 2 3 4 5 6"},
		{"every event, newest first", strata.EventFilter{}, true, 0, "6 5 4 3 2 1"},
		{"one environment's", strata.EventFilter{Environment: "prod"}, false, 0, "1 2 6"},
		{"one environment's and those of none", strata.EventFilter{Environment: "prod", Unplaced: true}, false, 0, "1 2 4 5 6"},
		{"the newest two of one environment, newest first", strata.EventFilter{Environment: "prod", Limit: 2}, true, 0, "6 2"},
		{"a scan the callback stops after three", strata.EventFilter{}, true, 3, "6 5 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fill(t)
			if got := seqs(t, s, tt.f, tt.newestFirst, tt.stopAfter); got != tt.want {
				t.Errorf("seqs = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("the callback's own error ends the scan and is returned", func(t *testing.T) {
		s := fill(t)
		boom := errors.New("boom")
		calls := 0
		err := s.ScanEvents(ctx(t), strata.EventFilter{}, false, func(*strata.Event) error {
			calls++
			return boom
		})
		if !errors.Is(err, boom) || calls != 1 {
			t.Errorf("scan = %v after %d calls, want boom after 1", err, calls)
		}
	})

	t.Run("a scan sees the events Events lists, chained", func(t *testing.T) {
		s := fill(t)
		var scanned []*strata.Event
		must(t, s.ScanEvents(ctx(t), strata.EventFilter{}, false, func(e *strata.Event) error {
			scanned = append(scanned, e)
			return nil
		}))
		verify(t, scanned)
		listed, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(listed) != len(scanned) || listed[5].Hash != scanned[5].Hash {
			t.Errorf("scanned %d events, listed %d", len(scanned), len(listed))
		}
	})
}
