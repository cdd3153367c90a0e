package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

func (a *app) gcCommand() *cobra.Command {
	var req report.GCRequest
	c := &cobra.Command{
		Use:   "gc [--keep N] [--dry-run]",
		Short: "Remove the bundles (artifacts and step files) no release that can still be deployed needs",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Keep < 1 {
				return strata.Errorf(strata.EINVALID, "--keep %d: want 1 or more (each service's newest release always keeps its bundle)", req.Keep)
			}
			doc, err := invoke(cmd.Context(), a, command.GC, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().IntVar(&req.Keep, "keep", engine.DefaultKeep, "keep the bundles of each service's N newest releases")
	c.Flags().StringVar(&req.MinAge, "min-age", "", "keep bundles kept for less than this long, e.g. 30m (default 1h: an upload whose release is on its way)")
	c.Flags().BoolVar(&req.DryRun, "dry-run", false, "list what would be removed, removing nothing")
	return c
}
