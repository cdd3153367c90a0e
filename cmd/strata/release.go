package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) releaseCommand() *cobra.Command {
	var req report.ReleaseRequest
	c := &cobra.Command{
		Use:   "release SERVICE [--version V]",
		Short: "Build a service once, store its artifacts, record the release, land it in the auto stages",
		Args:  exactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkParallel(req.Parallel); err != nil {
				return err
			}
			req.Service = args[0]
			doc, err := invoke(cmd.Context(), a, command.Release, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Version, "version", "", "release version (default: git describe --always --dirty, else a timestamp)")
	parallelFlag(c, &req.Parallel)
	return c
}
