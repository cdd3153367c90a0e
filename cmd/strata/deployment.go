package main

import (
	"time"

	"github.com/strata-dev/strata"
)

// deploymentDoc is the JSON document of one deployment (`deploy`, `rollback`, `history`).
type deploymentDoc struct {
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
}

func toDoc(d *strata.Deployment) deploymentDoc {
	return deploymentDoc{
		ID: d.ID, Service: d.Service, Environment: d.Environment, Version: d.Version, State: d.State,
		Attempt: d.Attempt, Health: d.Health, Kind: d.Kind, Promotion: d.PromotionID, RollbackOf: d.RollbackOf,
		Actor: d.Actor, Error: d.Error, Outputs: d.Outputs, StartedAt: timePtr(d.StartedAt), FinishedAt: timePtr(d.FinishedAt),
	}
}

func toDocs(ds []*strata.Deployment) []deploymentDoc {
	out := []deploymentDoc{}
	for _, d := range ds {
		if d != nil {
			out = append(out, toDoc(d))
		}
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// age prints how long ago t was, coarsely.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	case d < 48*time.Hour:
		return d.Round(time.Hour).String()
	default:
		return (d / (24 * time.Hour) * (24 * time.Hour)).String()
	}
}
