package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
)

// Verification is the result of recomputing the audit log's hash chain.
type verification struct {
	OK       bool   `json:"ok"`
	Events   int    `json:"events"`
	BrokenAt *int64 `json:"broken_at"`
	Reason   string `json:"reason,omitempty"`
}

// verifyChain recomputes every event's hash from the one before and names the first event
// whose sequence, link or hash does not match: an edit, a removal or a reordering.
func verifyChain(events []*strata.Event) verification {
	v := verification{OK: true, Events: len(events)}
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
			return v
		}
		prev = e.Hash
	}
	return v
}

func (a *app) auditCommand() *cobra.Command {
	var verify bool
	var f strata.EventFilter
	c := &cobra.Command{
		Use:   "audit [--verify]",
		Short: "The audit log; --verify recomputes the hash chain",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			if verify {
				events, err := s.Events(cmd.Context(), strata.EventFilter{})
				if err != nil {
					return err
				}
				v := verifyChain(events)
				var fail error
				if !v.OK {
					fail = strata.Errorf(strata.EFAILED, "audit log is broken at event %d: %s", *v.BrokenAt, v.Reason)
				}
				if fail != nil {
					return &resultError{err: fail, doc: v}
				}
				return a.print(v, func(w io.Writer) { fmt.Fprintf(w, "audit log ok: %d events, chain intact\n", v.Events) })
			}
			events, err := s.Events(cmd.Context(), f)
			if err != nil {
				return err
			}
			if events == nil {
				events = []*strata.Event{}
			}
			return a.print(events, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tSERVICE\tENVIRONMENT\tSUBJECT\tDETAIL")
				for _, e := range events {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, dash(e.Service), dash(e.Environment), dash(e.Subject), string(e.Detail))
				}
				tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&verify, "verify", false, "recompute the hash chain and name the first broken event (exit 1)")
	c.Flags().StringVar(&f.Service, "service", "", "only events about this service")
	c.Flags().StringVar(&f.Environment, "env", "", "only events about this environment")
	c.Flags().StringVar(&f.Actor, "actor", "", "only events by this principal")
	c.Flags().StringVar(&f.Action, "action", "", "only events of this action")
	c.Flags().IntVar(&f.Limit, "limit", 0, "only the newest N events")
	return c
}
