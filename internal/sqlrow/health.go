package sqlrow

import (
	"time"

	"github.com/strata-dev/strata"
)

// CheckHealth validates a health check a store is asked to record, and sets its CheckedAt
// from orNow when zero.
func CheckHealth(c *strata.HealthCheck, orNow func(time.Time) time.Time) error {
	switch {
	case c == nil || c.Service == "" || c.Environment == "" || c.Deployment == "":
		return strata.Errorf(strata.EINVALID, "record health: a health check needs a service, an environment and the deployment it checked")
	case c.Health != strata.Healthy && c.Health != strata.Unhealthy:
		return strata.Errorf(strata.EINVALID, "record health of %s in %s: health %q is neither %s nor %s", c.Service, c.Environment, c.Health, strata.Healthy, strata.Unhealthy)
	}
	c.CheckedAt = orNow(c.CheckedAt)
	return nil
}

// NextHealth is the one rule both stores apply when c arrives and old (nil, or one with no
// Deployment, when the pair has none) is the pair's newest check: whether to write c (not
// when old ran at or after it), and whether c changes its deployment's health. A
// deployment's health before its first check is healthy: it passed its check when it was
// made. It sets c.Since: old's for the same deployment and health, else c.CheckedAt.
func NextHealth(old, c *strata.HealthCheck) (write, changed bool) {
	known := old != nil && old.Deployment != ""
	if known && !c.CheckedAt.After(old.CheckedAt) {
		return false, false
	}
	before := strata.Healthy
	if known && old.Deployment == c.Deployment {
		before = old.Health
	}
	changed = c.Health != before
	c.Since = c.CheckedAt
	if known && old.Deployment == c.Deployment && !changed {
		c.Since = old.Since
	}
	return true, changed
}
