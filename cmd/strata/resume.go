package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/engine"
)

func (a *app) resumeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "resume",
		Short: "Run interrupted deployments again (next attempt); run promotions whose gates opened; destroy expired short-lived environments",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			res, err := e.Resume(cmd.Context())
			if res == nil {
				return err
			}
			var promos []map[string]any
			for _, p := range res.Promotions {
				promos = append(promos, promotionDoc(p))
			}
			destroyed := res.Destroyed
			if destroyed == nil {
				destroyed = []engine.DestroyedEnv{}
			}
			doc := map[string]any{"resumed": toDocs(res.Resumed), "promotions": promos, "destroyed": destroyed}
			if err != nil {
				return &resultError{err: err, doc: doc}
			}
			return a.print(doc, func(w io.Writer) {
				if len(res.Resumed) == 0 && len(res.Promotions) == 0 && len(res.Destroyed) == 0 {
					fmt.Fprintln(w, "nothing to resume")
				}
				for _, d := range res.Resumed {
					fmt.Fprintf(w, "resumed %s: %s@%s in %s %s (attempt %d)\n", d.ID, d.Service, d.Version, d.Environment, d.State, d.Attempt)
				}
				for _, p := range res.Promotions {
					fmt.Fprintf(w, "promotion %s: %s@%s to %s %s\n", p.Promotion.ID, p.Promotion.Service, p.Promotion.Version, p.Promotion.Stage, p.Promotion.State)
				}
				for _, d := range res.Destroyed {
					fmt.Fprintf(w, "destroyed expired environment %s (%s)\n", d.Name, dash(strings.Join(d.Services, ", ")))
				}
			})
		},
	}
}
