package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

// A rollback returns to a release as it ran: with the config its deployment kept, not the
// config the files say today. Secrets are never kept (a deployment keeps "***" in their
// place), so they are resolved again from the environment's secret store, as today.

// reuseKept returns rs with the values of kept, the config a deployment ran with, in place
// of today's; secret keys keep today's (re-resolved) values, and keys the kept config does
// not have keep today's too (the schema grew since).
func reuseKept(rs *layer.Resolved, kept map[string]any) *layer.Resolved {
	if rs == nil || kept == nil {
		return rs
	}
	out := *rs
	out.Values = make(map[string]any, len(rs.Values))
	for k, v := range rs.Values {
		out.Values[k] = v
	}
	out.Keys = slices.Clone(rs.Keys)
	for k, v := range kept {
		if rs.Secret[k] || v == layer.Redaction {
			continue
		}
		if _, had := out.Values[k]; !had {
			out.Keys = append(out.Keys, k)
		}
		out.Values[k] = keptValue(v, rs.Values[k])
	}
	slices.Sort(out.Keys)
	return &out
}

// differingKeys says which keys of today's config the kept one changes, for the log: names
// only, since a value may be long (secrets are never among them).
func differingKeys(today, used *layer.Resolved) string {
	var keys []string
	for _, k := range used.Keys {
		if fmt.Sprint(today.Values[k]) != fmt.Sprint(used.Values[k]) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return " (the same as today's)"
	}
	return fmt.Sprintf(" (today's differs in %s)", strings.Join(keys, ", "))
}

// keptValue turns a value read back from the store (JSON: every number a float64) into
// the type today's value of the key has, so an integer stays an integer.
func keptValue(v, today any) any {
	f, ok := v.(float64)
	if !ok {
		return v
	}
	if _, isInt := today.(int64); isInt || (today == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53) {
		return int64(f)
	}
	return f
}

// keptConfig returns the config of the newest good deployment of version in service's
// env, for a rollback to it; nil when there is none (a rollback then uses today's).
func (e *Engine) keptConfig(ctx context.Context, service, env, version string) (map[string]any, string, error) {
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Service: service, Environment: env, States: []string{strata.Succeeded}, Limit: 64})
	if err != nil {
		return nil, "", fmt.Errorf("find the config %s@%s ran with in %s: %w", service, version, env, err)
	}
	for _, d := range ds {
		if d.Version == version && d.Health != strata.Unhealthy && d.Config != nil && !e.stale(d) {
			return d.Config, d.ID, nil
		}
	}
	return nil, "", nil
}
