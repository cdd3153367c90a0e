package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/command"
)

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Load and check everything; print a summary of environments, services and stages",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Validate, command.None{})
			return show(a, doc, err, func(w io.Writer) {
				for _, x := range doc.Warnings {
					fmt.Fprintln(a.stderr, x)
				}
				doc.WriteText(w)
			})
		},
	}
}
