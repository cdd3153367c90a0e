package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
)

func (a *app) logsCommand() *cobra.Command {
	var follow bool
	c := &cobra.Command{
		Use:   "logs DEPLOYMENT_ID [--follow]",
		Short: "A deployment's step output as stored (redacted); live with --follow",
		Args:  exactArgs(1, "one DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			d, err := s.Deployment(ctx, args[0])
			if err != nil {
				return err
			}
			var all []strata.LogChunk
			var after int64
			for {
				chunks, err := s.Logs(ctx, d.ID, after)
				if err != nil {
					return err
				}
				for _, c := range chunks {
					after = c.Seq
					if a.json() {
						all = append(all, c)
					} else {
						io.WriteString(a.stdout, c.Data)
					}
				}
				if !follow || !strata.Active(d.State) {
					break
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(300 * time.Millisecond):
				}
				if d, err = s.Deployment(ctx, d.ID); err != nil {
					return err
				}
			}
			if a.json() {
				if all == nil {
					all = []strata.LogChunk{}
				}
				return a.writeJSON(map[string]any{"id": d.ID, "state": d.State, "chunks": all})
			}
			if follow {
				fmt.Fprintf(a.stderr, "%s %s\n", d.ID, d.State)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output until the deployment ends")
	return c
}
