package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) logsCommand() *cobra.Command {
	var follow bool
	c := &cobra.Command{
		Use:   "logs DEPLOYMENT_ID [--follow]",
		Short: "A deployment's step output as stored (redacted); live with --follow",
		Args:  exactArgs(1, "one DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			all := &report.Logs{Chunks: []strata.LogChunk{}}
			var after int64
			for {
				doc, err := invoke(ctx, a, command.Logs, report.LogsRequest{ID: args[0], After: after})
				if err != nil {
					return err
				}
				all.ID, all.State = doc.ID, doc.State
				for _, c := range doc.Chunks {
					after = c.Seq
					if a.json() {
						all.Chunks = append(all.Chunks, c)
					} else {
						io.WriteString(a.stdout, c.Data)
					}
				}
				if !follow || !strata.Active(doc.State) {
					break
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(300 * time.Millisecond):
				}
			}
			if a.json() {
				return a.writeJSON(all)
			}
			if follow {
				fmt.Fprintf(a.stderr, "%s %s\n", all.ID, all.State)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output until the deployment ends")
	return c
}
