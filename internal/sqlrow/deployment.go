package sqlrow

import (
	"fmt"
	"time"

	"github.com/strata-dev/strata"
)

// KnownState reports whether s is a deployment state.
func KnownState(s string) bool {
	switch s {
	case strata.Pending, strata.Running, strata.Succeeded, strata.Failed, strata.RolledBack, strata.Interrupted:
		return true
	}
	return false
}

// Columns are a deployment's JSON columns, encoded once, outside the transaction that
// writes them.
type Columns struct {
	Config, Outputs any
}

// NewDeployment checks d for CreateDeployment, making its state pending when it has none,
// and encodes its JSON columns.
func NewDeployment(d *strata.Deployment) (Columns, error) {
	if d.Service == "" || d.Environment == "" {
		return Columns{}, strata.Errorf(strata.EINVALID, "a deployment needs a service and an environment")
	}
	if d.State == "" {
		d.State = strata.Pending
	}
	if !KnownState(d.State) {
		return Columns{}, strata.Errorf(strata.EINVALID, "unknown deployment state %q", d.State)
	}
	c, err := columns(d)
	if err != nil {
		return Columns{}, fmt.Errorf("create deployment of %s to %s: %w", d.Service, d.Environment, err)
	}
	return c, nil
}

// UpdatedDeployment checks d for UpdateDeployment and returns it as the store will hold it,
// with its JSON columns: a final state clears the owner, process group and lease, and sets
// FinishedAt (orNow's answer for a zero time) when it is zero.
func UpdatedDeployment(d *strata.Deployment, orNow func(time.Time) time.Time) (*strata.Deployment, Columns, error) {
	if !KnownState(d.State) {
		return nil, Columns{}, strata.Errorf(strata.EINVALID, "unknown deployment state %q", d.State)
	}
	c, err := columns(d)
	if err != nil {
		return nil, Columns{}, fmt.Errorf("update deployment %s: %w", d.ID, err)
	}
	n := *d
	if !strata.Active(n.State) {
		n.Owner, n.PGID, n.LeaseUntil = strata.Owner{}, 0, time.Time{}
		n.FinishedAt = orNow(n.FinishedAt)
	}
	return &n, c, nil
}

func columns(d *strata.Deployment) (Columns, error) {
	var c Columns
	var err error
	if c.Config, err = ToJSON(d.Config); err != nil {
		return Columns{}, fmt.Errorf("config: %w", err)
	}
	if c.Outputs, err = ToJSON(d.Outputs); err != nil {
		return Columns{}, fmt.Errorf("outputs: %w", err)
	}
	return c, nil
}
