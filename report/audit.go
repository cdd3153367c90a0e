package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	// HeadSeq and HeadHash name the newest event. A chain cannot show that events were cut
	// from its end; recording the head elsewhere and checking it later (`--expect`) can.
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
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
		v.HeadSeq, v.HeadHash = e.Seq, e.Hash
	}
	return v, nil
}

// ParseAnchor reads "SEQ:HASH", a head recorded from an earlier `audit --verify`.
func ParseAnchor(s string) (int64, string, error) {
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 || len(hash) != 64 {
		return 0, "", strata.Errorf(strata.EINVALID, "--expect %q: want SEQ:HASH as an earlier `audit --verify` printed it, e.g. 42:%s", s, strings.Repeat("0", 64))
	}
	return n, hash, nil
}

// CheckAnchor checks that the log still holds event seq with the hash recorded for it: the
// one tampering the chain alone cannot show is events cut from its end.
func CheckAnchor(v *Verification, events []*strata.Event, seq int64, hash string) error {
	for _, e := range events {
		if e.Seq == seq {
			if e.Hash != hash {
				return strata.Errorf(strata.EFAILED, "audit log does not match the recorded head: event %d has hash %s, %s was recorded", seq, e.Hash, hash)
			}
			return nil
		}
	}
	return strata.Errorf(strata.EFAILED, "audit log ends at event %d, but event %d was recorded: events were removed from its end", v.HeadSeq, seq)
}

// WriteText prints that the chain is intact.
func (v *Verification) WriteText(w io.Writer) {
	fmt.Fprintf(w, "audit log ok: %d events, chain intact\n", v.Events)
	if v.HeadSeq > 0 {
		fmt.Fprintf(w, "head %d:%s\n(keep it elsewhere; `strata audit --verify --expect %d:%s` later also detects events removed from the end)\n", v.HeadSeq, v.HeadHash, v.HeadSeq, v.HeadHash)
	}
}

// WriteEvents prints the audit log as a table. The document of `audit` is the events
// themselves ([]*strata.Event), never nil.
func WriteEvents(w io.Writer, events []*strata.Event) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tSERVICE\tENVIRONMENT\tSUBJECT\tDETAIL")
	for _, e := range events {
		// Printable: an event stored before the text rule may hold control characters.
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.UTC().Format(time.RFC3339), strata.Printable(e.Actor), e.Action, Dash(e.Service), Dash(e.Environment), Dash(e.Subject), strata.Printable(string(e.Detail)))
	}
	tw.Flush()
}

// AuditLog is the document of GET /api/v1/audit: the events (`audit`), or the verification
// of the whole chain (`audit --verify`). It is written and read as the one it holds, so the
// JSON is what `strata audit -o json` prints either way.
type AuditLog struct {
	Events       []*strata.Event
	Verification *Verification
}

// MarshalJSON writes the verification when there is one, else the events ([] when none).
func (l *AuditLog) MarshalJSON() ([]byte, error) {
	if l.Verification != nil {
		return json.Marshal(l.Verification)
	}
	if l.Events == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(l.Events)
}

// UnmarshalJSON reads a list of events or a verification. An event's detail is kept
// compact, as the store keeps it and the text table prints it (a server indents its
// documents, details included).
func (l *AuditLog) UnmarshalJSON(data []byte) error {
	*l = AuditLog{}
	if b := bytes.TrimSpace(data); len(b) > 0 && b[0] != '[' {
		l.Verification = &Verification{}
		return json.Unmarshal(data, l.Verification)
	}
	if err := json.Unmarshal(data, &l.Events); err != nil {
		return err
	}
	for _, e := range l.Events {
		var b bytes.Buffer
		if len(e.Detail) > 0 && json.Compact(&b, e.Detail) == nil {
			e.Detail = b.Bytes()
		}
	}
	return nil
}
