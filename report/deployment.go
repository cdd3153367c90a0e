package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// Deployment is the document of one deployment (`deploy`, `rollback`, `history`, and the
// deployments inside releases and promotions).
type Deployment struct {
	ID          string            `json:"id"`
	Service     string            `json:"service"`
	Environment string            `json:"environment"`
	Version     string            `json:"version"`
	State       string            `json:"state"`
	Attempt     int               `json:"attempt"`
	Health      string            `json:"health,omitempty"`
	Kind        string            `json:"kind,omitempty"`
	Promotion   string            `json:"promotion,omitempty"`
	RollbackOf  string            `json:"rollback_of,omitempty"`
	Actor       string            `json:"actor,omitempty"`
	Error       string            `json:"error,omitempty"`
	Outputs     map[string]string `json:"outputs,omitempty"`
	StartedAt   *time.Time        `json:"started_at"`
	FinishedAt  *time.Time        `json:"finished_at"`
	// Pool and Agent say where a deployment of an environment with runs_on runs; Detail
	// says what an active one waits for or where it runs.
	Pool   string `json:"pool,omitempty"`
	Agent  string `json:"agent,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Gates, on a `deploy` to an environment whose policy needs approvals, are the gates of
	// the promotion it opened instead (ID and Promotion are then that promotion's id, Kind
	// "promotion", State its state).
	Gates []plan.Gate `json:"gates,omitempty"`
	// Recalled says who recalled the deployment's release, when and why (history).
	Recalled *strata.Recall `json:"recalled,omitempty"`
	// Picked, on a `deploy` that named no version, says which release it chose and which
	// newer ones it passed over.
	Picked *engine.Pick `json:"picked,omitempty"`
}

// poolDetail says what an active deployment of a pool waits for, or which agent runs it.
func poolDetail(d *strata.Deployment) string {
	switch {
	case d.Pool == "":
		return ""
	case d.State == strata.Pending:
		return "waiting for an agent of pool " + d.Pool
	case d.State == strata.Running && d.Agent != "":
		return fmt.Sprintf("running on agent %s of pool %s", d.Agent, d.Pool)
	}
	return ""
}

// NewDeployment returns the document of d.
func NewDeployment(d *strata.Deployment) *Deployment {
	return &Deployment{
		ID: d.ID, Service: d.Service, Environment: d.Environment, Version: d.Version, State: d.State,
		Attempt: d.Attempt, Health: d.Health, Kind: d.Kind, Promotion: d.PromotionID, RollbackOf: d.RollbackOf,
		Actor: d.Actor, Error: d.Error, Outputs: d.Outputs, StartedAt: TimePtr(d.StartedAt), FinishedAt: TimePtr(d.FinishedAt),
		Pool: d.Pool, Agent: d.Agent, Detail: poolDetail(d),
	}
}

// NewDeployments returns the documents of ds, skipping nils; never nil.
func NewDeployments(ds []*strata.Deployment) []Deployment {
	out := []Deployment{}
	for _, d := range ds {
		if d != nil {
			out = append(out, *NewDeployment(d))
		}
	}
	return out
}

// WritePick prints, for a `deploy` that named no version, which release it picked and why
// newer ones were passed over: the CLI writes it on stderr, beside the progress.
func (d *Deployment) WritePick(w io.Writer) {
	if d == nil || d.Picked == nil {
		return
	}
	fmt.Fprintf(w, "deploy: no version named; picked %s@%s, the newest release not recalled, failed or rolled back in %s\n", d.Service, d.Picked.Version, d.Environment)
	for _, s := range d.Picked.Skipped {
		fmt.Fprintf(w, "  skipped %s@%s: %s\n", d.Service, s.Version, s.Why)
	}
}

// WriteText prints the deployment as `deploy` and `rollback` do.
func (d *Deployment) WriteText(w io.Writer) {
	if d.Gates != nil {
		fmt.Fprintf(w, "promotion %s: %s@%s, only %s: %s (the environment's policy needs approvals, which a promotion collects)\n",
			d.ID, d.Service, d.Version, d.Environment, d.State)
		for _, g := range d.Gates {
			mark := "✓"
			if !g.OK {
				mark = "✗"
			}
			fmt.Fprintf(w, "  %s %-14s %s\n", mark, g.Name, g.Detail)
		}
		return
	}
	fmt.Fprintf(w, "%s: %s@%s in %s %s (attempt %d)\n", d.ID, d.Service, d.Version, d.Environment, d.State, d.Attempt)
	if d.Detail != "" {
		fmt.Fprintf(w, "  %s\n", d.Detail)
	}
	for _, k := range slices.Sorted(maps.Keys(d.Outputs)) {
		fmt.Fprintf(w, "  output %s=%s\n", k, d.Outputs[k])
	}
}

// TimePtr returns t in UTC, or nil for the zero time (printed as JSON null).
func TimePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// timeOf is the time *t, or the zero time.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
