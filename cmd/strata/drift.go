package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) driftCommand() *cobra.Command {
	var req report.DriftRequest
	c := &cobra.Command{
		Use:   "drift [--env ENV]",
		Short: "Config drift and version drift against what was last deployed (exit 1 when any)",
		Long: `drift compares every service's last successful deployment in each environment with now:
config drift when strata.yaml resolves to other values than the deployment used (the keys
that differ are named, old -> new), version drift when the service's observe step reports a
version other than the one deployed, or cannot report one. It exits 1 when it finds any.
Secret values are not read, so secrets are not compared. In an environment with runs_on
the observe step runs on an agent of its pool; when none answers within --agent-wait the
item says "could not observe: no agent of pool P answered".`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Drift, req)
			return showAlways(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "only this environment")
	c.Flags().StringVar(&req.AgentWait, "agent-wait", "", "how long an observe step (or a failover item's health check) of an environment with runs_on waits for an agent of its pool (default 30s)")
	return c
}
