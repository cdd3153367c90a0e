package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) statsCommand() *cobra.Command {
	var req report.StatsRequest
	c := &cobra.Command{
		Use:   "stats [--service S] [--since 30d]",
		Short: "DORA figures per service: deployment frequency, lead time, change failure rate, time to restore",
		Long: `stats computes, per service, over the window --since that ends now (30 days by default):
deployment_frequency, releases that reached the pipeline's last stage per day;
lead_time_seconds, the median time from a release being recorded to its first arrival in the
last stage; change_failure_rate, deployments that failed or were rolled back over every
finished deployment (rollbacks, which repair, are not changes); time_to_restore_seconds, the
median time from a failure in an environment to the next successful deployment there.
A figure nothing in the window measured is "-" (null in JSON).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Stats, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Service, "service", "", "only this service")
	c.Flags().StringVar(&req.Since, "since", "30d", "the window, ending now: whole days (30d) or a Go duration (12h)")
	return c
}
