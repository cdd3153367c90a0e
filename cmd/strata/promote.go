package main

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) promoteCommand() *cobra.Command {
	var req report.PromoteRequest
	c := &cobra.Command{
		Use:   "promote SERVICE[@VERSION]... [--to STAGE] [--only ENV]...",
		Short: "Ask to move a release (or a train of several) into the next (or named) stage; it runs when every gate holds",
		Args:  minArgs(1, "one SERVICE[@VERSION], or several for a release train"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkParallel(req.Parallel); err != nil {
				return err
			}
			req.Service, req.Version, req.Members = trainRefs(args)
			doc, err := invoke(cmd.Context(), a, command.Promote, req)
			return showAlways(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.To, "to", "", "stage (default: the next stage the release has not reached)")
	c.Flags().BoolVar(&req.OverrideWindow, "override-window", false, "open closed deploy windows (recorded in the audit log; needs --reason)")
	c.Flags().StringVar(&req.Reason, "reason", "", "why the window is overridden")
	c.Flags().StringArrayVar(&req.Only, "only", nil, "promote into this environment of the stage only, with the stage's gates (repeatable)")
	parallelFlag(c, &req.Parallel)
	return c
}

// parallelFlag adds --parallel to c: how many environments of a wave deploy at once.
func parallelFlag(c *cobra.Command, n *int) {
	c.Flags().IntVar(n, "parallel", 4, "deploy at most N environments of a wave at once")
}

// checkParallel checks n is a usable --parallel value.
func checkParallel(n int) error {
	if n < 1 {
		return strata.Errorf(strata.EINVALID, "--parallel %d: want 1 or more environments at once", n)
	}
	return nil
}

func (a *app) approveCommand() *cobra.Command {
	var req report.ApproveRequest
	c := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a waiting promotion, runbook run or group switch; it runs here when that opens its last gate",
		Args:  exactArgs(1, "one promotion ID (p-…), run ID (t-…) or switch ID (sw-…)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isSwitchID(args[0]) {
				doc, err := invoke(cmd.Context(), a, command.ApproveSwitch, report.SwitchIDRequest{ID: args[0]})
				return showAlways(a, doc, err, doc.WriteText)
			}
			if isRunID(args[0]) {
				stop := func(*strata.TaskRun) {}
				if a.client != nil && !a.json() {
					// The last approval runs it, and the server answers when it ends.
					stop = a.followApproved(cmd.Context(), args[0])
				}
				doc, err := invoke(cmd.Context(), a, command.ApproveRun, report.RunIDRequest{ID: args[0]})
				stop(doc)
				return showAlways(a, doc, err, func(w io.Writer) { report.WriteRun(w, doc) })
			}
			if err := checkParallel(req.Parallel); err != nil {
				return err
			}
			doc, err := invoke(cmd.Context(), a, command.Approve, report.ApproveRequest{ID: args[0], Parallel: req.Parallel})
			return showAlways(a, doc, err, doc.WriteText)
		},
	}
	parallelFlag(c, &req.Parallel)
	return c
}

func (a *app) rejectCommand() *cobra.Command {
	var req report.RejectRequest
	c := &cobra.Command{
		Use:   "reject ID --reason R",
		Short: "Reject a waiting promotion, runbook run or group switch",
		Args:  exactArgs(1, "one promotion ID (p-…), run ID (t-…) or switch ID (sw-…)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isSwitchID(args[0]) {
				doc, err := invoke(cmd.Context(), a, command.RejectSwitch, report.SwitchRejectRequest{ID: args[0], Reason: req.Reason})
				return showAlways(a, doc, err, doc.WriteText)
			}
			if isRunID(args[0]) {
				doc, err := invoke(cmd.Context(), a, command.RejectRun, report.RunRejectRequest{ID: args[0], Reason: req.Reason})
				return showAlways(a, doc, err, func(w io.Writer) { report.WriteRun(w, doc) })
			}
			doc, err := invoke(cmd.Context(), a, command.Reject, report.RejectRequest{ID: args[0], Reason: req.Reason})
			return showAlways(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Reason, "reason", "", "why (required; recorded in the audit log)")
	return c
}

// trainRefs reads the SERVICE[@VERSION] arguments of promote and plan: the first is the
// promotion's release; several make a release train of them all.
func trainRefs(args []string) (service, version string, members []report.Member) {
	service, version = splitRef(args[0])
	if len(args) == 1 {
		return service, version, nil
	}
	for _, a := range args {
		s, v := splitRef(a)
		members = append(members, report.Member{Service: s, Version: v})
	}
	return service, version, members
}
