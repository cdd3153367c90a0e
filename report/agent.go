package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-dev/strata"
)

// Agent is one agent as `strata agent list` shows it.
type Agent struct {
	Name           string    `json:"name"`
	Pool           string    `json:"pool"`
	Version        string    `json:"version"`
	ConnectedSince time.Time `json:"connected_since"`
	LastSeen       time.Time `json:"last_seen"`
	// Running lists the ids of the deployments it holds now.
	Running []string `json:"running"`
}

// NewAgents returns the documents of as, each with the active deployments of active that it
// holds (an agent's claim names it); never nil.
func NewAgents(as []*strata.Agent, active []*strata.Deployment) []Agent {
	out := make([]Agent, 0, len(as))
	for _, a := range as {
		doc := Agent{Name: a.Name, Pool: a.Pool, Version: a.Version, ConnectedSince: a.ConnectedSince.UTC(), LastSeen: a.LastSeen.UTC(), Running: []string{}}
		for _, d := range active {
			if d.Pool != "" && d.Agent == a.Name && d.State == strata.Running && d.Owner.IsAgent() {
				doc.Running = append(doc.Running, d.ID)
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
