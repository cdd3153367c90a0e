package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
)

// version and commit are set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "The binary's version, commit and store schema version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := commit
			if c == "" {
				if info, ok := debug.ReadBuildInfo(); ok {
					for _, s := range info.Settings {
						if s.Key == "vcs.revision" {
							c = s.Value
						}
					}
				}
			}
			doc := map[string]any{"version": version, "commit": c, "schema": strata.SchemaVersion, "go": runtime.Version()}
			return a.print(doc, func(w io.Writer) {
				fmt.Fprintf(w, "strata %s (commit %s, store schema %d, %s)\n", version, dash(c), strata.SchemaVersion, runtime.Version())
			})
		},
	}
}
