package report

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// RecallRequest is the body of POST /api/v1/recalls: `recall SERVICE@VERSION --reason R
// [--rollback]`.
type RecallRequest struct {
	Service  string `json:"service"`
	Version  string `json:"version"`
	Reason   string `json:"reason"`
	Rollback bool   `json:"rollback,omitempty"`
	Parallel int    `json:"parallel,omitempty"`
}

// UnrecallRequest is the body of POST /api/v1/unrecalls: `unrecall SERVICE@VERSION --reason R`.
type UnrecallRequest struct {
	Service string `json:"service"`
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

// Recall is the document of `recall` and `unrecall`: the release, its recall (null once
// lifted), the waiting promotions the recall rejected, and with --rollback the waves of
// environments that ran it, the rollbacks made, and those left running it.
type Recall struct {
	Service   string         `json:"service"`
	Version   string         `json:"version"`
	Release   string         `json:"release"`
	Recalled  *strata.Recall `json:"recalled"`
	Rejected  []string       `json:"rejected"`
	Waves     [][]string     `json:"waves"`
	Rollbacks []Deployment   `json:"rollbacks"`
	Left      []string       `json:"left"`
}

// RecallRelease marks a release bad, as e's actor.
func RecallRelease(ctx context.Context, e *engine.Engine, req RecallRequest) (*Recall, error) {
	if err := parallel(e, req.Parallel); err != nil {
		return nil, err
	}
	res, err := e.Recall(ctx, engine.RecallRequest{Service: req.Service, Version: req.Version, Reason: req.Reason, Rollback: req.Rollback})
	if res == nil {
		return nil, err
	}
	doc := &Recall{Service: res.Release.Service, Version: res.Release.Version, Release: res.Release.ID, Recalled: res.Release.Recalled,
		Rejected: []string{}, Waves: res.Waves, Rollbacks: NewDeployments(res.Rollbacks), Left: res.Left}
	for _, p := range res.Rejected {
		doc.Rejected = append(doc.Rejected, p.ID)
	}
	return doc, err
}

// UnrecallRelease lifts a release's recall, as e's actor.
func UnrecallRelease(ctx context.Context, e *engine.Engine, req UnrecallRequest) (*Recall, error) {
	rel, err := e.Unrecall(ctx, req.Service, req.Version, req.Reason)
	if err != nil {
		return nil, err
	}
	return &Recall{Service: rel.Service, Version: rel.Version, Release: rel.ID, Rejected: []string{}, Waves: [][]string{},
		Rollbacks: []Deployment{}, Left: []string{}}, nil
}

// WriteText prints the recall as `recall` and `unrecall` do.
func (r *Recall) WriteText(w io.Writer) {
	if r.Recalled == nil {
		fmt.Fprintf(w, "%s@%s is no longer recalled; it may be promoted and deployed again\n", r.Service, r.Version)
		return
	}
	fmt.Fprintf(w, "%s@%s recalled by %s at %s: %s\n", r.Service, r.Version, r.Recalled.By, r.Recalled.At.UTC().Format(time.RFC3339), r.Recalled.Reason)
	if len(r.Rejected) > 0 {
		fmt.Fprintf(w, "  rejected waiting promotions: %s\n", strings.Join(r.Rejected, ", "))
	}
	for _, d := range r.Rollbacks {
		fmt.Fprintf(w, "  %s: %s back to %s %s (%s)\n", d.Environment, d.Service, d.Version, d.State, d.ID)
	}
	if len(r.Left) > 0 {
		fmt.Fprintf(w, "  still running it: %s\n", strings.Join(r.Left, ", "))
	}
}
