package main

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) envCreateCommand() *cobra.Command {
	var like, ttl, policy string
	var labels, set []string
	c := &cobra.Command{
		Use:   "create NAME --like ENV [--ttl 24h] [--label k=v ...] [--set KEY=VALUE ...] [--policy inherit]",
		Short: "Make a short-lived environment like a declared one (config, labels, policy inherited)",
		Args:  exactArgs(1, "one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := report.EnvCreateRequest{Name: args[0], Like: like, TTL: ttl, Policy: policy}
			if like == "" {
				return strata.Errorf(strata.EINVALID, "--like is required: name the declared environment to copy, e.g. --like staging")
			}
			if ttl != "" {
				if _, err := report.ParseTTL(ttl); err != nil {
					return err
				}
			}
			var err error
			if req.Labels, err = report.ParseLabels(labels); err != nil {
				return err
			}
			if req.Set, err = report.ParseSet(set); err != nil {
				return err
			}
			doc, err := invoke(cmd.Context(), a, command.CreateEnv, req)
			return show(a, doc, err, func(w io.Writer) { doc.WriteText(w, a.now()) })
		},
	}
	c.Flags().StringVar(&like, "like", "", "the declared environment it is made like (required)")
	c.Flags().StringVar(&ttl, "ttl", "", `time to live, e.g. "24h", "30m" or "7d"; resume destroys it after (default: none)`)
	c.Flags().StringArrayVar(&labels, "label", nil, "a label k=v laid over the parent's (repeatable)")
	c.Flags().StringArrayVar(&set, "set", nil, "its own config KEY=VALUE, checked against every schema that declares KEY (repeatable)")
	c.Flags().StringVar(&policy, "policy", "", "inherit: keep the parent's deploy windows and approvals (default: neither)")
	return c
}

func (a *app) envDestroyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "destroy NAME",
		Short: "Run the destroy steps of a short-lived environment (reverse dependency order) and forget it",
		Args:  exactArgs(1, "one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.DestroyEnv, report.EnvDestroyRequest{Name: args[0]})
			return show(a, doc, err, doc.WriteText)
		},
	}
}

func (a *app) envRetireCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retire NAME",
		Short: "Destroy what still runs in an environment removed from strata.yaml, and record it retired",
		Args:  exactArgs(1, "one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.RetireEnv, report.EnvRetireRequest{Name: args[0]})
			return show(a, doc, err, doc.WriteText)
		},
	}
}
