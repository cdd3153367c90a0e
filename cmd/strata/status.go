package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "The environment x service matrix: version, state, age",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.status(cmd.Context())
		},
	}
}

// status prints the environment x service matrix.
func (a *app) status(ctx context.Context) error {
	doc, err := invoke(ctx, a, command.Status, report.StatusRequest{})
	return show(a, doc, err, func(w io.Writer) { doc.WriteText(w, a.now()) })
}

func (a *app) historyCommand() *cobra.Command {
	var q report.HistoryQuery
	c := &cobra.Command{
		Use:   "history [SERVICE] [--env ENV]",
		Short: "Deployments, newest first",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return strata.Errorf(strata.EINVALID, "history takes at most one SERVICE; usage: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				q.Service = args[0]
			}
			docs, err := invoke(cmd.Context(), a, command.History, q)
			if err != nil {
				return err
			}
			a.noteLimit(len(docs), q.Limit, "deployments")
			return a.print(docs, func(w io.Writer) { report.WriteHistory(w, docs, a.now()) })
		},
	}
	c.Flags().StringVar(&q.Environment, "env", "", "only this environment")
	c.Flags().IntVar(&q.Limit, "limit", defaultListLimit, "at most this many, newest first (0: all)")
	return c
}

// defaultListLimit is how many deployments `history` and events `audit` show unless
// --limit says otherwise: an estate of thousands of environments has a history of
// hundreds of thousands, and a terminal wants the newest.
const defaultListLimit = 100

// noteLimit says on stderr that a list stopped at its limit (n items of limit) with more
// to come (the answer named a next page), and how to see the rest; stdout keeps the
// document alone.
func (a *app) noteLimit(n, limit int, what string) {
	if limit > 0 && n >= limit && a.next != "" {
		fmt.Fprintf(a.stderr, "strata: showing the newest %d %s; --limit N shows more, --limit 0 all\n", limit, what)
	}
}
