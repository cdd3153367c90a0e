package main

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) freezeCommand() *cobra.Command {
	var req report.FreezeRequest
	c := &cobra.Command{
		Use:   "freeze ENV --reason R",
		Short: "Close an environment to deployments until unfreeze",
		Args:  exactArgs(1, "one ENV"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Env = args[0]
			doc, err := invoke(cmd.Context(), a, command.Freeze, req)
			return show(a, doc, err, func(w io.Writer) { report.WriteFreeze(w, doc) })
		},
	}
	c.Flags().StringVar(&req.Reason, "reason", "", "why (required)")
	return c
}

func (a *app) unfreezeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unfreeze ENV",
		Short: "Reopen a frozen environment",
		Args:  exactArgs(1, "one ENV"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Unfreeze, report.UnfreezeRequest{Env: args[0]})
			return show(a, doc, err, doc.WriteText)
		},
	}
}
