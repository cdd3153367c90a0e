package main

import (
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

// flagCommand is `strata flag ...`: feature flags per environment.
func (a *app) flagCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "flag",
		Short: "Feature flags per environment (served over OFREP by strata serve)",
		Long: `Feature flags are declared under flags: in strata.yaml and overridden per environment
through extends. Runtime changes (set, rollout, kill) are stored, audited, need the deploy
permission on the environment and honour its freeze. See docs/flags.md.`,
		Args: exactArgs(0, "a subcommand: list, explain, set, rollout, kill, unkill, requests or approve"),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(a.flagListCommand(), a.flagExplainCommand(), a.flagSetCommand(), a.flagRolloutCommand(),
		a.flagKillCommand(), a.flagUnkillCommand(), a.flagRequestsCommand(), a.flagApproveCommand())
	return c
}

func (a *app) flagListCommand() *cobra.Command {
	var req report.FlagListRequest
	c := &cobra.Command{
		Use:   "list --env ENV",
		Short: "Every flag in an environment: value, reason, where it came from",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, err := invoke(cmd.Context(), a, command.FlagList, req)
			if err != nil {
				return err
			}
			return a.print(docs, func(w io.Writer) { report.WriteFlags(w, docs) })
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "environment (required)")
	return c
}

func (a *app) flagExplainCommand() *cobra.Command {
	var req report.FlagExplainRequest
	c := &cobra.Command{
		Use:   "explain FLAG --env ENV",
		Short: "Each part of a flag in an environment and where it came from",
		Args:  exactArgs(1, "one FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Key = args[0]
			doc, err := invoke(cmd.Context(), a, command.FlagExplain, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "environment (required)")
	return c
}

func (a *app) flagSetCommand() *cobra.Command {
	var req report.FlagSetRequest
	c := &cobra.Command{
		Use:     "set FLAG VALUE --env ENV --reason R",
		Short:   "Give a flag a value in an environment, above its rules and rollout",
		Example: "  strata flag set checkout-v2 true --env staging --reason \"QA sign-off\"\n  strata flag set banner '{\"color\": \"blue\"}' --env dev --reason demo",
		Args:    exactArgs(2, "FLAG and VALUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Key, req.Value = args[0], args[1]
			doc, err := invoke(cmd.Context(), a, command.FlagSet, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "environment (required)")
	c.Flags().StringVar(&req.Reason, "reason", "", "why (required; audited)")
	return c
}

func (a *app) flagRolloutCommand() *cobra.Command {
	var req report.FlagRolloutRequest
	c := &cobra.Command{
		Use:   "rollout FLAG PERCENT --env ENV",
		Short: "Roll a flag's rollout value out to PERCENT (0-100) of users, sticky per targetingKey",
		Args:  exactArgs(2, "FLAG and PERCENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Key = args[0]
			p, err := strconv.Atoi(strings.TrimSuffix(args[1], "%"))
			if err != nil {
				return strata.Errorf(strata.EINVALID, "PERCENT %q is not a whole number; want 0 to 100, such as 25", args[1])
			}
			req.Percent = p
			doc, err := invoke(cmd.Context(), a, command.FlagRollout, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "environment (required)")
	c.Flags().StringVar(&req.Reason, "reason", "", "why (audited)")
	return c
}

func (a *app) flagKillCommand() *cobra.Command {
	var req report.FlagKillRequest
	c := &cobra.Command{
		Use:   "kill FLAG --env ENV --reason R",
		Short: "Force a flag's default in an environment, above every rule, until unkill",
		Args:  exactArgs(1, "one FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Key = args[0]
			doc, err := invoke(cmd.Context(), a, command.FlagKill, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "environment (required)")
	c.Flags().StringVar(&req.Reason, "reason", "", "why (required; shown with the flag and audited)")
	return c
}

func (a *app) flagUnkillCommand() *cobra.Command {
	var req report.FlagKillRequest
	c := &cobra.Command{
		Use:   "unkill FLAG --env ENV",
		Short: "Lift a kill: the flag evaluates as before",
		Args:  exactArgs(1, "one FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Key = args[0]
			doc, err := invoke(cmd.Context(), a, command.FlagUnkill, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "environment (required)")
	return c
}

func (a *app) flagRequestsCommand() *cobra.Command {
	var req report.FlagRequestsRequest
	c := &cobra.Command{
		Use:   "requests [--env ENV]",
		Short: "Runtime flag changes that wait for approvals (policy.flag_approvals)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, err := invoke(cmd.Context(), a, command.FlagRequests, req)
			if err != nil {
				return err
			}
			return a.print(docs, func(w io.Writer) { report.WriteFlagRequests(w, docs) })
		},
	}
	c.Flags().StringVar(&req.Env, "env", "", "only this environment")
	return c
}

func (a *app) flagApproveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a runtime flag change; the last approval it needs applies it",
		Args:  exactArgs(1, "one ID (strata flag requests lists them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.FlagApprove, report.FlagApproveRequest{ID: args[0]})
			return show(a, doc, err, doc.WriteText)
		},
	}
}
