package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) planCommand() *cobra.Command {
	var req report.PromoteRequest
	c := &cobra.Command{
		Use:   "plan SERVICE[@VERSION]... [--to STAGE] [--only ENV]...",
		Short: "Show what a promotion (or a release train) would do and which gates hold, changing nothing",
		Args:  minArgs(1, "one SERVICE[@VERSION], or several for a release train"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Service, req.Version, req.Members = trainRefs(args)
			doc, err := invoke(cmd.Context(), a, command.Plan, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.To, "to", "", "stage (default: the next stage the release has not reached)")
	c.Flags().BoolVar(&req.OverrideWindow, "override-window", false, "judge the window gate as overridden")
	c.Flags().StringVar(&req.Reason, "reason", "", "why the window would be overridden")
	c.Flags().StringArrayVar(&req.Only, "only", nil, "plan for this environment of the stage only (repeatable)")
	return c
}
