package report

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// Agent is one agent as `strata agent list` shows it.
type Agent struct {
	Name           string    `json:"name"`
	Pool           string    `json:"pool"`
	Version        string    `json:"version"`
	ConnectedSince time.Time `json:"connected_since"`
	LastSeen       time.Time `json:"last_seen"`
	// Running lists the ids of the deployments and task runs (t-…: runbooks, destroy and
	// observe steps) it holds now.
	Running []string `json:"running"`
}

// NewAgents returns the documents of as, each with the active deployments of active and
// the running task runs of runs that it holds (an agent's claim names it); never nil.
func NewAgents(as []*strata.Agent, active []*strata.Deployment, runs []*strata.TaskRun) []Agent {
	out := make([]Agent, 0, len(as))
	for _, a := range as {
		doc := Agent{Name: a.Name, Pool: a.Pool, Version: a.Version, ConnectedSince: a.ConnectedSince.UTC(), LastSeen: a.LastSeen.UTC(), Running: []string{}}
		for _, d := range active {
			if d.Pool != "" && d.Agent == a.Name && d.State == strata.Running && d.Owner.IsAgent() {
				doc.Running = append(doc.Running, d.ID)
			}
		}
		for _, r := range runs {
			if r.Pool != "" && r.Agent == a.Name && r.State == strata.RunRunning && r.Owner.IsAgent() {
				doc.Running = append(doc.Running, r.ID)
			}
		}
		out = append(out, doc)
	}
	return out
}

// WriteAgents prints agents as a table, last seen as an age against now.
func WriteAgents(w io.Writer, agents []Agent, now time.Time) {
	if len(agents) == 0 {
		fmt.Fprintln(w, "no agents have registered; start one with `strata agent --server URL --token T --pool POOL`")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPOOL\tVERSION\tCONNECTED SINCE\tLAST SEEN\tRUNNING")
	for _, a := range agents {
		running := strings.Join(a.Running, ",")
		if running == "" {
			running = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s ago\t%s\n", a.Name, a.Pool, a.Version, a.ConnectedSince.Format(time.RFC3339),
			strata.Duration(now.Sub(a.LastSeen).Round(time.Second)), running)
	}
	tw.Flush()
}

// ListAgents returns the agents that registered and what each runs, and the pools of the
// environments covers reaches (nil: every environment) with their figures: the agents and
// deployments of pools the principal reaches no environment of are left out. It is `agent
// list`'s document and the dashboard's agents page.
func ListAgents(ctx context.Context, s strata.Store, p *strata.Project, now time.Time, covers func(env string) bool) ([]Agent, []Pool, error) {
	as, err := s.Agents(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list agents: %w", err)
	}
	active, err := s.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Pending, strata.Running, strata.Interrupted}})
	if err != nil {
		return nil, nil, fmt.Errorf("list agents' deployments: %w", err)
	}
	runs, err := s.TaskRuns(ctx, strata.TaskRunFilter{States: []string{strata.RunRunning}})
	if err != nil {
		return nil, nil, fmt.Errorf("list agents' runs: %w", err)
	}
	if covers != nil {
		active = slices.DeleteFunc(active, func(d *strata.Deployment) bool { return !covers(d.Environment) })
		runs = slices.DeleteFunc(runs, func(r *strata.TaskRun) bool { return !covers(r.Environment) })
	}
	pools := NewPools(p, as, active, runs, now, covers)
	if covers != nil {
		as = slices.DeleteFunc(as, func(a *strata.Agent) bool {
			return !slices.ContainsFunc(pools, func(p Pool) bool { return p.Name == a.Pool })
		})
	}
	return NewAgents(as, active, runs), pools, nil
}

// Pool is a pool of agents: the environments that run on it, its agents connected (seen
// within engine.AgentGone), its deployments waiting for one and its task runs (runbooks,
// destroy and observe steps) queued for one.
type Pool struct {
	Name         string   `json:"name"`
	Environments []string `json:"environments"`
	Connected    int      `json:"connected"`
	Waiting      int      `json:"waiting"`
	RunsWaiting  int      `json:"runs_waiting"`
}

// NewPools returns the pools the environments of p that covers reaches (nil: all) run on,
// by name, with their figures from agents, the active deployments and the running task
// runs.
func NewPools(p *strata.Project, agents []*strata.Agent, active []*strata.Deployment, runs []*strata.TaskRun, now time.Time, covers func(env string) bool) []Pool {
	byName := map[string]*Pool{}
	for _, e := range p.Environments {
		if e.RunsOn == "" || (covers != nil && !covers(e.Name)) {
			continue
		}
		if byName[e.RunsOn] == nil {
			byName[e.RunsOn] = &Pool{Name: e.RunsOn}
		}
		byName[e.RunsOn].Environments = append(byName[e.RunsOn].Environments, e.Name)
	}
	for _, a := range agents {
		if pl := byName[a.Pool]; pl != nil && now.Sub(a.LastSeen) < engine.AgentGone {
			pl.Connected++
		}
	}
	for _, d := range active {
		if pl := byName[d.Pool]; pl != nil && d.State == strata.Pending {
			pl.Waiting++
		}
	}
	for _, r := range runs {
		if pl := byName[r.Pool]; pl != nil && r.State == strata.RunRunning && r.Agent == "" && (covers == nil || covers(r.Environment)) {
			pl.RunsWaiting++
		}
	}
	out := make([]Pool, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, *byName[name])
	}
	return out
}
