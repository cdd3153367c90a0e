package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) graphCommand() *cobra.Command {
	var req report.GraphRequest
	c := &cobra.Command{
		Use:   "graph [--format dot|mermaid|svg] [--env ENV] [--service S]",
		Short: "The estate drawn: environments (extends, labels), pipeline stages, service dependencies",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Graph, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Format, "format", "dot", "dot, mermaid or svg")
	c.Flags().StringVar(&req.Env, "env", "", "only this environment, its ancestors and its descendants")
	c.Flags().StringVar(&req.Service, "service", "", "only this service, what it depends on and what depends on it")
	return c
}
