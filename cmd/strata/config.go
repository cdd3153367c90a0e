package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) configCommand() *cobra.Command {
	var env string
	var explain bool
	c := &cobra.Command{
		Use:   "config SERVICE --env ENV [--explain]",
		Short: "Show a service's resolved config in an environment; --explain adds each value's source",
		Args:  exactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Config, report.ConfigRequest{Service: args[0], Env: env, Explain: explain})
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&env, "env", "", "environment (required)")
	c.Flags().BoolVar(&explain, "explain", false, "show where each value comes from and what it overrides")
	return c
}

// splitRef reads SERVICE[@VERSION].
func splitRef(ref string) (service, version string) { return report.SplitRef(ref) }
