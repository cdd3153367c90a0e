package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/engine"
)

func (a *app) releaseCommand() *cobra.Command {
	var version string
	var parallel int
	c := &cobra.Command{
		Use:   "release SERVICE [--version V]",
		Short: "Build a service once, store its artifacts, record the release, land it in the auto stages",
		Args:  exactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if e.Parallel, err = checkParallel(parallel); err != nil {
				return err
			}
			res, err := e.Release(cmd.Context(), args[0], version)
			if res == nil {
				return err
			}
			doc := releaseDoc(res)
			if err != nil {
				return &resultError{err: err, doc: doc}
			}
			return a.print(doc, func(w io.Writer) {
				r := res.Release
				fmt.Fprintf(w, "release %s: %s@%s %s\n", r.ID, r.Service, r.Version, r.Digest)
				for _, p := range res.Promotions {
					fmt.Fprintf(w, "  %s: %s (%s)\n", p.Promotion.Stage, p.Promotion.State, p.Promotion.ID)
				}
			})
		},
	}
	c.Flags().StringVar(&version, "version", "", "release version (default: git describe --always --dirty, else a timestamp)")
	parallelFlag(c, &parallel)
	return c
}

func releaseDoc(res *engine.ReleaseResult) map[string]any {
	r := res.Release
	var promos []map[string]any
	for _, p := range res.Promotions {
		promos = append(promos, promotionDoc(p))
	}
	return map[string]any{
		"id": r.ID, "service": r.Service, "version": r.Version, "digest": r.Digest, "commit": r.Commit,
		"created_by": r.CreatedBy, "created_at": r.CreatedAt, "reused": res.Reused,
		"deployments": toDocs(res.Deployments), "promotions": promos,
	}
}
