package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff ENV_A ENV_B",
		Short: "Versions and config that differ between two environments",
		Args:  exactArgs(2, "two environments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Diff, report.DiffRequest{A: args[0], B: args[1]})
			return show(a, doc, err, doc.WriteText)
		},
	}
}
