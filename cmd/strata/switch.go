package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

// isSwitchID reports whether id names a group switch (sw-…) rather than a promotion.
func isSwitchID(id string) bool { return strings.HasPrefix(id, "sw-") }

func (a *app) groupsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "groups",
		Short: "Environment groups (blue/green, disaster recovery): which member is live",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Groups, report.GroupsRequest{})
			if err != nil {
				return err
			}
			return a.print(doc, func(w io.Writer) { report.WriteGroups(w, doc) })
		},
	}
}

func (a *app) switchCommand() *cobra.Command {
	var req report.SwitchRequest
	c := &cobra.Command{
		Use:   "switch GROUP --to ENV [--reason R] [--dry-run]",
		Short: "Move a group's traffic to another member: gated, then the group's switch step, audited",
		Long: `Moves the traffic of an environment group (strata.yaml's groups) to the member --to names.
The gates: every service deployed and healthy in ENV, no config drift in ENV, the group's
approvals from someone other than the requester, and ENV's freezes and deploy windows. A
closed gate refuses the switch (exit 3, naming it); when only approvals are missing the
switch is recorded waiting (exit 3, with its id) and runs on ` + "`strata approve ID`" + `. Then the
group's switch step runs (STRATA_GROUP, STRATA_FROM, STRATA_TO) and the store records ENV as
live. A step that fails leaves the live member as it was (exit 1). --dry-run shows the gates
and the diff of the two members, as ` + "`strata plan --switch`" + ` does. In a member with
runs_on the health check runs on an agent of its pool; when none answers within --agent-wait
the health gate says so.`,
		Example: `  strata switch shop-us --to prod-us-green --reason "release 1.4 verified on green"`,
		Args:    exactArgs(1, "one GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Group = args[0]
			if req.To == "" {
				return strata.Errorf(strata.EINVALID, "switch needs --to ENV: the member of %s that becomes live", req.Group)
			}
			doc, err := invoke(cmd.Context(), a, command.Switch, req)
			return showAlways(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.To, "to", "", "the member that becomes live")
	c.Flags().StringVar(&req.Reason, "reason", "", "why (recorded in the audit log; approvers read it)")
	c.Flags().BoolVar(&req.DryRun, "dry-run", false, "show the gates and the diff, changing nothing")
	c.Flags().StringVar(&req.AgentWait, "agent-wait", "", "how long the health check of a member with runs_on waits for an agent of its pool (default 30s)")
	return c
}

func (a *app) failoverCommand() *cobra.Command {
	var req report.FailoverRequest
	c := &cobra.Command{
		Use:   "failover GROUP --reason R [--to ENV]",
		Short: "Move a group's traffic off a live side that is down (admin or approver; break-glass)",
		Long: `Switches a group to a standby when the live member is down. It skips the health and drift
gates, which the dead side cannot pass, and the approvals: it needs the admin or approver
role instead, and a --reason, recorded as the break-glass reason. ENV's freezes and deploy
windows still apply. The side it left shows as ` + "`drift`" + ` (kind failover) until it is healthy
again. Without --to it moves to the group's first standby.`,
		Example: `  strata failover shop-us --reason "us-east-1 outage, INC-4411"`,
		Args:    exactArgs(1, "one GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Group = args[0]
			doc, err := invoke(cmd.Context(), a, command.Failover, req)
			return showAlways(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Reason, "reason", "", "why (required: the break-glass reason in the audit log)")
	c.Flags().StringVar(&req.To, "to", "", "the standby that becomes live (default: the first)")
	return c
}

// planSwitch is `plan --switch GROUP --to ENV`.
func (a *app) planSwitch(cmd *cobra.Command, group, to, agentWait string) error {
	if to == "" {
		return strata.Errorf(strata.EINVALID, "plan --switch %s needs --to ENV: the member that would become live", group)
	}
	doc, err := invoke(cmd.Context(), a, command.PlanSwitch, report.PlanSwitchRequest{Group: group, To: to, AgentWait: agentWait})
	return show(a, doc, err, doc.WriteText)
}
