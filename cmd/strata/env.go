package main

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) envCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "env",
		Short: "List environments; create and destroy short-lived ones; retire removed ones",
	}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Environments with labels, parent and policy, resolved through extends",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, err := invoke(cmd.Context(), a, command.Environments, report.EnvListRequest{})
			if err != nil {
				return err
			}
			return a.print(docs, func(w io.Writer) { report.WriteEnvironments(w, docs, a.now()) })
		},
	})
	c.AddCommand(a.envCreateCommand(), a.envDestroyCommand(), a.envRetireCommand())
	return c
}

func dash(s string) string { return report.Dash(s) }
