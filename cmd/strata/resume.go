package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
)

func (a *app) resumeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "resume",
		Short: "Run interrupted deployments again (next attempt); carry on interrupted promotions; run promotions whose gates opened; destroy expired short-lived environments",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Resume, command.None{})
			return show(a, doc, err, doc.WriteText)
		},
	}
}
