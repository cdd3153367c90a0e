package api

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/strata-dev/strata"
)

// Verification is the document of `audit --verify`: the result of recomputing the audit
// log's hash chain.
type Verification struct {
	OK       bool   `json:"ok"`
	Events   int    `json:"events"`
	BrokenAt *int64 `json:"broken_at"`
	Reason   string `json:"reason,omitempty"`
}

// Verify recomputes every event's hash from the one before and names the first event whose
// sequence, link or hash does not match: an edit, a removal or a reordering. The error is
// EFAILED when the chain is broken (the document still says where).
func Verify(events []*strata.Event) (*Verification, error) {
	v := &Verification{OK: true, Events: len(events)}
	prev := ""
	for i, e := range events {
		var why string
		switch {
		case e.Seq != int64(i+1):
			why = fmt.Sprintf("event %d is in position %d: an event before it was removed or the log was reordered", e.Seq, i+1)
		case e.Prev != prev:
			why = fmt.Sprintf("event %d does not link to the event before it", e.Seq)
		case e.ComputeHash(prev) != e.Hash:
			why = fmt.Sprintf("event %d was changed after it was written", e.Seq)
		}
		if why != "" {
			seq := e.Seq
			if e.Seq != int64(i+1) {
				seq = int64(i + 1)
			}
			v.OK, v.BrokenAt, v.Reason = false, &seq, why
			return v, strata.Errorf(strata.EFAILED, "audit log is broken at event %d: %s", seq, why)
		}
		prev = e.Hash
	}
	return v, nil
}

// WriteText prints that the chain is intact.
func (v *Verification) WriteText(w io.Writer) {
	fmt.Fprintf(w, "audit log ok: %d events, chain intact\n", v.Events)
}

// WriteEvents prints the audit log as a table. The document of `audit` is the events
// themselves ([]*strata.Event), never nil.
func WriteEvents(w io.Writer, events []*strata.Event) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tSERVICE\tENVIRONMENT\tSUBJECT\tDETAIL")
	for _, e := range events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, Dash(e.Service), Dash(e.Environment), Dash(e.Subject), string(e.Detail))
	}
	tw.Flush()
}
