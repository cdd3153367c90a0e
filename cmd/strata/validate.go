package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
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

// knownList formats names for "unknown X; known: a, b, c" messages.
func knownList(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// unknown returns the not-found error for a name of some kind, listing the known ones.
func unknown(kind, name string, known []string) error {
	return strata.Errorf(strata.ENOTFOUND, "unknown %s %q; known: %s", kind, name, knownList(known))
}
