package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
)

func (a *app) driftCommand() *cobra.Command {
	var env string
	c := &cobra.Command{
		Use:   "drift [--env ENV]",
		Short: "Config drift and version drift against what was last deployed (exit 1 when any)",
		Long: `drift compares every service's last successful deployment in each environment with now:
config drift when strata.yaml resolves to other values than the deployment used (the keys
that differ are named, old -> new), version drift when the service's observe step reports a
version other than the one deployed, or cannot report one. It exits 1 when it finds any.
Secret values are not read, so secrets are not compared.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if env != "" {
				if err := needEnv(e.Project, env); err != nil {
					return err
				}
			}
			items, err := e.Drift(cmd.Context(), env)
			if err != nil {
				return err
			}
			doc := map[string]any{"drift": items}
			if len(items) == 0 {
				return a.print(doc, func(w io.Writer) { fmt.Fprintln(w, "no drift") })
			}
			if !a.json() {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SERVICE\tENVIRONMENT\tKIND\tDETAIL")
				for _, it := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.Service, it.Environment, it.Kind, it.Detail)
				}
				tw.Flush()
			}
			return &resultError{err: strata.Errorf(strata.EFAILED, "drift found: %d item(s)", len(items)), doc: doc}
		},
	}
	c.Flags().StringVar(&env, "env", "", "only this environment")
	return c
}
