package main

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) auditCommand() *cobra.Command {
	var verify bool
	var expect string
	var req report.AuditRequest
	c := &cobra.Command{
		Use:   "audit [--verify]",
		Short: "The audit log; --verify recomputes the hash chain",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if verify {
				var seq int64
				var hash string
				if expect != "" {
					var err error
					if seq, hash, err = report.ParseAnchor(expect); err != nil {
						return err
					}
				}
				res, err := invoke(cmd.Context(), a, command.Audit, report.AuditRequest{Verify: true})
				var doc *report.Verification
				if res != nil {
					doc = res.Verification
				}
				if err == nil && expect != "" {
					all, aerr := invoke(cmd.Context(), a, command.Audit, report.AuditRequest{})
					if aerr != nil {
						return aerr
					}
					if err = report.CheckAnchor(doc, all.Events, seq, hash); err != nil {
						doc.OK, doc.Reason = false, err.Error()
						doc.BrokenAt = &seq
					}
				}
				return show(a, doc, err, doc.WriteText)
			}
			res, err := invoke(cmd.Context(), a, command.Audit, req)
			if err != nil {
				return err
			}
			events := res.Events
			a.noteLimit(len(events), req.Limit, "events")
			return a.print(events, func(w io.Writer) { report.WriteEvents(w, events) })
		},
	}
	c.Flags().BoolVar(&verify, "verify", false, "recompute the hash chain and name the first broken event (exit 1)")
	c.Flags().StringVar(&expect, "expect", "", "with --verify: SEQ:HASH of a head recorded earlier; fails when events were cut from the end")
	c.Flags().StringVar(&req.Service, "service", "", "only events about this service")
	c.Flags().StringVar(&req.Env, "env", "", "only events about this environment")
	c.Flags().StringVar(&req.Actor, "actor", "", "only events by this principal")
	c.Flags().StringVar(&req.Action, "action", "", "only events of this action")
	c.Flags().IntVar(&req.Limit, "limit", defaultListLimit, "only the newest N events (0: all)")
	return c
}
