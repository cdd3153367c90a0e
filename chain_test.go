package strata_test

import (
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// auditChain returns n events chained as a store appends them.
func auditChain(n int) []*strata.Event {
	var out []*strata.Event
	prev := ""
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 1; i <= n; i++ {
		e := &strata.Event{Seq: int64(i), At: at.Add(time.Duration(i) * time.Second), Actor: "alice", Action: "deploy.succeeded",
			Service: "api", Environment: "prod", Subject: fmt.Sprintf("d-%d", i), Detail: []byte(`{"version":"1.2.3"}`), Prev: prev}
		e.Hash = e.ComputeHash(prev)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func TestVerifyChainNamesTheFirstBrokenEvent(t *testing.T) {
	tests := []struct {
		name   string
		tamper func([]*strata.Event) []*strata.Event
		broken int64 // 0: intact
		reason string
		events int
	}{
		{"an intact chain is ok", func(es []*strata.Event) []*strata.Event { return es }, 0, "", 5},
		{"an empty log is ok", func([]*strata.Event) []*strata.Event { return nil }, 0, "", 0},
		{"an edited event is named", func(es []*strata.Event) []*strata.Event { es[2].Actor = "mallory"; return es }, 3, "changed after it was written", 5},
		{"an edited detail is named", func(es []*strata.Event) []*strata.Event { es[4].Detail = []byte(`{"version":"6.6.6"}`); return es }, 5, "changed after it was written", 5},
		{"a removed event names the position it left", func(es []*strata.Event) []*strata.Event { return append(es[:1], es[2:]...) }, 2, "removed or the log was reordered", 4},
		{"two swapped events are named", func(es []*strata.Event) []*strata.Event { es[1], es[2] = es[2], es[1]; return es }, 2, "reordered", 5},
		{"a relinked event is named", func(es []*strata.Event) []*strata.Event { es[3].Prev = "x"; return es }, 4, "does not link", 5},
		{"a hostile actor is hashed, not obeyed", func(es []*strata.Event) []*strata.Event {
			es[0].Actor = "a\"\n0\nrm -rf /; ${x} %s"
			return es
		}, 1, "changed after it was written", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := strata.VerifyChain(strata.EventSeq(tc.tamper(auditChain(5))))
			if got.Events != tc.events {
				t.Errorf("events: got %d, want %d", got.Events, tc.events)
			}
			if tc.broken == 0 {
				if err != nil || !got.OK() {
					t.Fatalf("got %+v, %v; want an intact chain", got, err)
				}
				return
			}
			if got, want := strata.ErrorCode(err), strata.EFAILED; got != want {
				t.Errorf("code: got %q (%v), want %q", got, err, want)
			}
			if got.OK() || got.BrokenAt != tc.broken {
				t.Fatalf("broken at: got %d, want %d", got.BrokenAt, tc.broken)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason %q, want it to say %q", got.Reason, tc.reason)
			}
			if got.HeadSeq != tc.broken-1 {
				t.Errorf("head: got event %d, want the last good one, %d", got.HeadSeq, tc.broken-1)
			}
		})
	}
}

func TestVerifyChainNamesTheHeadOfAnIntactChain(t *testing.T) {
	es := auditChain(3)
	got, err := strata.VerifyChain(strata.EventSeq(es))
	if err != nil {
		t.Fatal(err)
	}
	if got.HeadSeq != 3 || got.HeadHash != es[2].Hash {
		t.Errorf("head: got %d:%s, want 3:%s", got.HeadSeq, got.HeadHash, es[2].Hash)
	}
}

func TestVerifyChainReadsOneEventAtATimeAndStopsOnAReadError(t *testing.T) {
	es := auditChain(4)
	readFailed := strata.Errorf(strata.EINTERNAL, "database is locked")
	read := 0
	stream := iter.Seq2[*strata.Event, error](func(yield func(*strata.Event, error) bool) {
		for _, e := range es[:2] {
			read++
			if !yield(e, nil) {
				return
			}
		}
		if !yield(nil, readFailed) {
			return
		}
		t.Error("VerifyChain asked for more after a read error")
	})
	got, err := strata.VerifyChain(stream)
	if !errors.Is(err, readFailed) || strata.ErrorCode(err) != strata.EINTERNAL {
		t.Fatalf("error: got %v (code %q), want the read error with its code", err, strata.ErrorCode(err))
	}
	if read != 2 || got.Events != 2 || got.HeadSeq != 2 {
		t.Errorf("got %d read, %+v; want the 2 events before the error", read, got)
	}
}
