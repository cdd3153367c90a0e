package main

import (
	"github.com/spf13/cobra"
)

func (a *app) resumeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "resume",
		Short: "Run interrupted deployments again (next attempt); carry on interrupted promotions; run promotions whose gates opened; destroy expired short-lived environments",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := a.backend().Resume(cmd.Context())
			return show(a, doc, err, doc.WriteText)
		},
	}
}
