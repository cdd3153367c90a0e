package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) deployCommand() *cobra.Command {
	var req report.DeployRequest
	c := &cobra.Command{
		Use:   "deploy SERVICE[@VERSION] --env ENV",
		Short: "Deploy one release to one environment (its policy still applies)",
		Args:  exactArgs(1, "one SERVICE[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Service, req.Version = splitRef(args[0])
			doc, err := invoke(cmd.Context(), a, command.Deploy, req)
			if doc != nil && doc.Gates != nil {
				// It opened a promotion: its gates say what it waits for.
				return showAlways(a, doc, err, doc.WriteText)
			}
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "environment (required)")
	c.Flags().BoolVar(&req.NoWait, "no-wait", false, "fail at once (exit 3) when another deployment holds the service in that environment")
	return c
}

func (a *app) rollbackCommand() *cobra.Command {
	var req report.RollbackRequest
	c := &cobra.Command{
		Use:   "rollback SERVICE --env ENV [--to VERSION] [--override-freeze|--override-window --reason R]",
		Short: "Redeploy the previous good release (or --to VERSION); freezes and deploy windows hold it",
		Args:  exactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Service = args[0]
			doc, err := invoke(cmd.Context(), a, command.Rollback, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "environment (required)")
	c.Flags().StringVar(&req.To, "to", "", "version to go back to (default: the previous good release there)")
	c.Flags().BoolVar(&req.OverrideFreeze, "override-freeze", false, "roll back into a frozen environment (admin or approver; audited; needs --reason)")
	c.Flags().BoolVar(&req.OverrideWindow, "override-window", false, "roll back outside the deploy windows (admin; audited; needs --reason)")
	c.Flags().StringVar(&req.Reason, "reason", "", "why the freeze or window is overridden")
	return c
}
