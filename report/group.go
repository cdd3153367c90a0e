package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// GroupsRequest is GET /api/v1/groups: every environment group and its live member.
type GroupsRequest struct{}

// SwitchRequest is POST /api/v1/groups/{group}/switch: `switch GROUP --to ENV`.
type SwitchRequest struct {
	Group  string `json:"-" path:"group"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
	// DryRun judges the gates and shows the diff, changing nothing (as `plan --switch`).
	DryRun bool `json:"dry_run,omitempty"`
	// AgentWait is how long the health gate's check of a service in a member with runs_on
	// waits for an agent of its pool (a duration such as 30s; empty: 30s).
	AgentWait string `json:"agent_wait,omitempty"`
}

// FailoverRequest is POST /api/v1/groups/{group}/failover: `failover GROUP --reason R`.
type FailoverRequest struct {
	Group  string `json:"-" path:"group"`
	To     string `json:"to,omitempty"`
	Reason string `json:"reason"`
}

// PlanSwitchRequest is GET /api/v1/groups/{group}/plan: `plan --switch GROUP --to ENV`.
type PlanSwitchRequest struct {
	Group string `json:"-" path:"group"`
	To    string `json:"-" query:"to" doc:"the member that would become live"`
	// AgentWait is as SwitchRequest's: how long the health gate's check of a service in a
	// member with runs_on waits for an agent of its pool.
	AgentWait string `json:"-" query:"agent_wait" doc:"how long the health check of a member with runs_on waits for an agent of its pool (e.g. 30s; default 30s)"`
}

// SwitchIDRequest names one switch: POST /api/v1/switches/{id}/approve.
type SwitchIDRequest struct {
	ID string `json:"-" path:"id"`
}

// SwitchRejectRequest is POST /api/v1/switches/{id}/reject.
type SwitchRejectRequest struct {
	ID     string `json:"-" path:"id"`
	Reason string `json:"reason"`
}

// Group is one environment group in `strata groups`.
type Group struct {
	Name         string   `json:"name"`
	Live         string   `json:"live"`
	Environments []string `json:"environments"`
	// Standby are the members that are not live.
	Standby []string `json:"standby"`
	// Switch is the group's newest switch, when there was one.
	Switch *strata.Switch `json:"last_switch,omitempty"`
}

// Switch is a switch or failover (recorded, or as `plan --switch` would make it) with its
// gates; a plan adds the diff of the two members.
type Switch struct {
	strata.Switch
	Gates []plan.Gate `json:"gates"`
	// Unchanged says the member asked for is live already: nothing was done.
	Unchanged bool `json:"unchanged,omitempty"`
	// Diff is what differs between the live member and the target (plan and dry run).
	Diff *Diff `json:"diff,omitempty"`
}

// NewSwitch returns the document of a switch result.
func NewSwitch(r *engine.SwitchResult) *Switch {
	if r == nil || r.Switch == nil {
		return nil
	}
	doc := &Switch{Switch: *r.Switch, Gates: r.Gates, Unchanged: r.Unchanged}
	if doc.Gates == nil {
		doc.Gates = []plan.Gate{}
	}
	if doc.Approvals == nil {
		doc.Approvals = []strata.Approval{}
	}
	return doc
}

// WriteText prints the switch: what moves where, its state, its gates, the step's output
// and the diff of a plan.
func (s *Switch) WriteText(w io.Writer) {
	if s.Unchanged {
		fmt.Fprintf(w, "%s is live in group %s already; nothing to do\n", s.To, s.Group)
		return
	}
	id := s.ID
	if id == "" {
		id = "(not recorded)"
	}
	fmt.Fprintf(w, "%s %s: group %s: %s -> %s: %s\n", s.Kind, id, s.Group, s.From, s.To, s.State)
	if s.Requester != "" {
		fmt.Fprintf(w, "  requested by %s", s.Requester)
		if s.Reason != "" {
			fmt.Fprintf(w, ": %s", s.Reason)
		}
		fmt.Fprintln(w)
	}
	for _, a := range s.Approvals {
		fmt.Fprintf(w, "  approved by %s at %s\n", a.Principal, a.At.UTC().Format("2006-01-02 15:04:05Z"))
	}
	writeGates(w, s.Gates)
	if s.Error != "" {
		fmt.Fprintf(w, "  %s\n", s.Error)
	}
	if s.Output != "" {
		fmt.Fprintln(w, "  output:")
		for _, line := range strings.Split(strings.TrimRight(s.Output, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
	if s.Diff != nil {
		fmt.Fprintln(w)
		s.Diff.WriteText(w)
	}
}

func writeGates(w io.Writer, gates []plan.Gate) {
	if len(gates) == 0 {
		return
	}
	fmt.Fprintln(w, "  gates:")
	for _, g := range gates {
		mark := "✓"
		if !g.OK {
			mark = "✗"
		}
		fmt.Fprintf(w, "    %s %-12s %s\n", mark, g.Name, g.Detail)
	}
}

// WriteGroups prints the groups, one a line, the live member marked.
func WriteGroups(w io.Writer, gs []Group) {
	if len(gs) == 0 {
		fmt.Fprintln(w, "no groups: strata.yaml declares none (see docs/configuration.md#groups)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tLIVE\tSTANDBY\tLAST SWITCH")
	for _, g := range gs {
		last := "-"
		if s := g.Switch; s != nil {
			last = fmt.Sprintf("%s %s %s -> %s %s by %s", s.Kind, s.ID, s.From, s.To, s.State, s.Requester)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Name, g.Live, Dash(strings.Join(g.Standby, ", ")), last)
	}
	tw.Flush()
}

// StatusGroup is one environment group in the status document.
type StatusGroup struct {
	Name         string   `json:"name"`
	Live         string   `json:"live"`
	Environments []string `json:"environments"`
}

// GroupRole names a group member's role: live, or standby.
func GroupRole(live bool) string {
	if live {
		return strata.RoleLive
	}
	return strata.RoleStandby
}

// MarkLive marks, in s, each group member's cells with its group and whether it is live,
// and lists the groups, live being each group's live member (engine.Live).
func (s *Status) MarkLive(p *strata.Project, live map[string]string) {
	for i := range s.Cells {
		c := &s.Cells[i]
		if g := p.GroupOf(c.Environment); g != nil {
			c.Group, c.Live = g.Name, live[g.Name] == c.Environment
		}
	}
	for _, g := range p.Groups {
		s.Groups = append(s.Groups, StatusGroup{Name: g.Name, Live: live[g.Name], Environments: g.Environments})
	}
}
