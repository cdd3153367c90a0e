package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) planCommand() *cobra.Command {
	var req report.PromoteRequest
	var group, agentWait string
	c := &cobra.Command{
		Use:   "plan SERVICE[@VERSION]... [--to STAGE] [--only ENV]... | plan --switch GROUP --to ENV",
		Short: "Show what a promotion (a release train, or a group switch) would do and which gates hold, changing nothing",
		Args: func(cmd *cobra.Command, args []string) error {
			if group != "" {
				return exactArgs(0, "no SERVICE with --switch")(cmd, args)
			}
			return minArgs(1, "one SERVICE[@VERSION], or several for a release train")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if group != "" {
				return a.planSwitch(cmd, group, req.To, agentWait)
			}
			if agentWait != "" {
				return strata.Errorf(strata.EINVALID, "--agent-wait goes with --switch GROUP: it bounds the wait of a member's health check for an agent")
			}
			req.Service, req.Version, req.Members = trainRefs(args)
			doc, err := invoke(cmd.Context(), a, command.Plan, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.To, "to", "", "stage (default: the next stage the release has not reached); with --switch, the member")
	c.Flags().StringVar(&group, "switch", "", "plan a switch of this group (with --to ENV) instead: its gates and the diff of the two members")
	c.Flags().BoolVar(&req.OverrideWindow, "override-window", false, "judge the window gate as overridden")
	c.Flags().StringVar(&req.Reason, "reason", "", "why the window would be overridden")
	c.Flags().StringArrayVar(&req.Only, "only", nil, "plan for this environment of the stage only (repeatable)")
	c.Flags().StringVar(&agentWait, "agent-wait", "", "with --switch: how long the health check of a member with runs_on waits for an agent of its pool (default 30s)")
	return c
}
