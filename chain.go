package strata

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"time"
)

// The audit log's hash chain has one home: the hash that links each event to the one before
// (ComputeHash), which stores call when appending, and its verification (VerifyChain), which
// `strata audit --verify`, the API and the dashboard call.

// ComputeHash returns the hash that chains e to the event before it: sha256 over the previous
// hash and every field of e but Hash, in a fixed order. Stores call it when appending and
// `audit --verify` calls it again to detect edits, removals and reorderings.
func (e *Event) ComputeHash(prev string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n%s\n%q\n%q\n%q\n%q\n%q\n", prev, e.Seq, e.At.UTC().Format(time.RFC3339Nano),
		e.Actor, e.Action, e.Service, e.Environment, e.Subject)
	h.Write(e.Detail)
	return hex.EncodeToString(h.Sum(nil))
}

// ChainResult is what recomputing the audit log's hash chain found.
type ChainResult struct {
	// Events is how many events the log holds.
	Events int
	// HeadSeq and HeadHash name the newest event of an intact chain, or the last good one
	// before a break. A chain cannot show that events were cut from its end; recording the
	// head elsewhere and checking it later can.
	HeadSeq  int64
	HeadHash string
	// BrokenAt is the position (1 for the first event) of the first event whose sequence,
	// link or hash does not match, and Reason says which; 0 when the chain is intact.
	BrokenAt int64
	Reason   string
}

// OK reports whether the chain is intact.
func (r ChainResult) OK() bool { return r.BrokenAt == 0 }

// VerifyChain reads events oldest first and recomputes each one's hash from the one before,
// and names the first event whose sequence, link or hash does not match: an edit, a removal
// or a reordering (past it, events are only counted). It holds one event at a time, so a
// caller may stream the log from its store. A broken chain is an EFAILED error (the result
// still says where); an error the sequence yields is returned wrapped with the position.
func VerifyChain(events iter.Seq2[*Event, error]) (ChainResult, error) {
	var r ChainResult
	prev := ""
	for e, err := range events {
		if err != nil {
			return r, fmt.Errorf("read audit event %d: %w", r.Events+1, err)
		}
		pos := int64(r.Events + 1)
		r.Events++
		if r.BrokenAt != 0 {
			continue
		}
		var why string
		switch {
		case e.Seq != pos:
			why = fmt.Sprintf("event %d is in position %d: an event before it was removed or the log was reordered", e.Seq, pos)
		case e.Prev != prev:
			why = fmt.Sprintf("event %d does not link to the event before it", e.Seq)
		case e.ComputeHash(prev) != e.Hash:
			why = fmt.Sprintf("event %d was changed after it was written", e.Seq)
		}
		if why != "" {
			r.BrokenAt, r.Reason = pos, why
			continue
		}
		prev = e.Hash
		r.HeadSeq, r.HeadHash = e.Seq, e.Hash
	}
	if r.BrokenAt != 0 {
		return r, Errorf(EFAILED, "audit log is broken at event %d: %s", r.BrokenAt, r.Reason)
	}
	return r, nil
}

// EventSeq yields events as VerifyChain reads them, for a caller that holds them already.
func EventSeq(events []*Event) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
}
