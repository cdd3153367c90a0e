package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	strhttp "github.com/strata-dev/strata/http"
)

func (a *app) serveCommand() *cobra.Command {
	var listen string
	var tick time.Duration
	c := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Serve the HTTP API and web dashboard, and run the scheduler (default 127.0.0.1:7480)",
		Long: `serve runs Strata as a server for the project in DIR and its store: the JSON API that
every command has a route in (docs/api.md; the CLI uses it with --server and --token), the
web dashboard at /, /metrics and /healthz. Every request needs a token made with
` + "`strata token create`" + `; the token's name is the acting principal.

Every --tick it resumes interrupted deployments, starts waiting promotions whose gates have
opened (a window opened, a soak ended) and chains auto stages after them, and destroys
expired short-lived environments. Several servers may share one store: each piece of work
runs once. Webhooks (notify: in strata.yaml) are signed with $STRATA_WEBHOOK_SECRET.

Request logs go to stderr; it stops cleanly on SIGINT or SIGTERM.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tick <= 0 {
				return strata.Errorf(strata.EINVALID, "--tick %s: want a positive duration such as 5s", tick)
			}
			ctx := cmd.Context()
			e, err := a.engine(ctx)
			if err != nil {
				return err
			}
			var handler slog.Handler = slog.NewTextHandler(a.stderr, nil)
			if a.json() {
				handler = slog.NewJSONHandler(a.stderr, nil)
			}
			s, err := strhttp.New(strhttp.Config{
				Engine: e, Logger: slog.New(handler), Tick: tick, SchedulerActor: "scheduler",
				WebhookSecret: os.Getenv("STRATA_WEBHOOK_SECRET"),
			})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return strata.Errorf(strata.EINVALID, "cannot listen on %s: %v; choose another address with --listen", listen, err)
			}
			fmt.Fprintf(a.stderr, "strata: serving %s on http://%s (dashboard /, API /api/v1/, scheduler every %s)\n", e.Project.Name, ln.Addr(), tick)
			return s.Serve(ctx, ln)
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:7480", "address to listen on (host:port; port 0 picks a free one)")
	c.Flags().DurationVar(&tick, "tick", 5*time.Second, "how often the scheduler looks for work")
	return c
}
