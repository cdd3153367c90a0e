package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

func (a *app) gcCommand() *cobra.Command {
	var req report.GCRequest
	var keep int
	c := &cobra.Command{
		Use:   "gc [--keep N] [--dry-run]",
		Short: "Remove the bundles (artifacts and step files) no release that can still be deployed needs",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("keep") {
				req.Keep = &keep
			}
			doc, err := invoke(cmd.Context(), a, command.GC, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().IntVar(&keep, "keep", engine.DefaultKeep, "keep the bundles of each service's N newest releases")
	c.Flags().StringVar(&req.MinAge, "min-age", "", "keep bundles kept for less than this long, e.g. 30m (default 1h: an upload whose release is on its way)")
	c.Flags().BoolVar(&req.DryRun, "dry-run", false, "list what would be removed, removing nothing")
	return c
}
