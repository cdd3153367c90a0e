package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

// isRunID reports whether id names a runbook run (t-…) rather than a promotion.
func isRunID(id string) bool { return strings.HasPrefix(id, "t-") }

func (a *app) runCommand() *cobra.Command {
	var req report.RunRequest
	c := &cobra.Command{
		Use:   "run SERVICE TASK --env ENV [--reason R]",
		Short: "Run a service's runbook (services.NAME.runbooks) in an environment, with its config and secrets",
		Long: `Runs an operational task declared in strata.yaml (services.NAME.runbooks.TASK) in one
environment, with that environment's config and secrets, as a deploy step would get them.
A frozen environment refuses it (exit 3). A runbook whose policy needs approvals is recorded
waiting (exit 3, with its id); someone else runs ` + "`strata approve ID`" + ` and it runs then. The run,
its approvals and how it ended are in the audit log; its output (secrets redacted) is kept:
` + "`strata runs show ID`" + `. Exit 1 when the command fails. In an environment with runs_on an
agent of its pool runs it; its output shows on stderr as it arrives, here or over --server.`,
		Example: `  strata run api reindex --env prod-eu --reason "search results stale since 14:02"`,
		Args:    exactArgs(2, "SERVICE and TASK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Service, req.Task = args[0], args[1]
			if req.Env == "" {
				return strata.Errorf(strata.EINVALID, "run needs --env ENV")
			}
			stop := func(*strata.TaskRun) {}
			if a.client != nil && !a.json() {
				// The server answers when the run ends: its output so far is read meanwhile.
				stop = a.followRun(cmd.Context(), req)
			}
			doc, err := invoke(cmd.Context(), a, command.Run, req)
			stop(doc)
			return showAlways(a, doc, err, func(w io.Writer) { report.WriteRun(w, doc) })
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "the environment to run it in")
	c.Flags().StringVar(&req.Reason, "reason", "", "why (required when the runbook needs approvals; recorded in the audit log)")
	return c
}

func (a *app) runsCommand() *cobra.Command {
	var req report.RunsRequest
	c := &cobra.Command{
		Use:   "runs [--env ENV] [--service S] [--kind K]",
		Short: "The newest runbook runs",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Runs, req)
			if err != nil {
				return err
			}
			return a.print(doc, func(w io.Writer) { report.WriteRuns(w, doc) })
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "only runs in this environment")
	c.Flags().StringVar(&req.Service, "service", "", "only runs of this service's runbooks")
	c.Flags().IntVar(&req.Limit, "limit", 50, "the newest this many")
	c.Flags().StringVar(&req.Kind, "kind", "", "only runs of this kind: run, destroy, observe, health or all (default: run and destroy)")
	c.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "One run: its state, approvals, exit status and output",
		Args:  exactArgs(1, "one run ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.ShowRun, report.RunIDRequest{ID: args[0]})
			return show(a, doc, err, func(w io.Writer) { report.WriteRun(w, doc) })
		},
	})
	return c
}
