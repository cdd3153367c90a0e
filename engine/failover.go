package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// DriftFailover is the drift a failover leaves on the side it left: it lasts until every
// service there runs healthy again (or another switch moves the group).
const DriftFailover = "failover"

// failoverDrift returns, for each group whose last switch was a failover that still stands,
// the services of the side it left that are not healthy again, checked now (in env only
// when env is not ""). A group whose old side passes every check has none: the drift ends
// by itself once the old side is mended.
func (e *Engine) failoverDrift(ctx context.Context, env string) ([]DriftItem, error) {
	if len(e.Project.Groups) == 0 {
		return nil, nil
	}
	live, err := e.Live(ctx)
	if err != nil {
		return nil, err
	}
	var out []DriftItem
	for _, g := range e.Project.Groups {
		last, err := e.Store.Switches(ctx, strata.SwitchFilter{Group: g.Name, States: []string{strata.SwitchSucceeded}, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("drift: read switches of %s: %w", g.Name, err)
		}
		if len(last) == 0 || last[0].Kind != strata.KindFailover || live[g.Name] != last[0].To || !g.Has(last[0].From) {
			continue
		}
		sw := last[0]
		if env != "" && env != sw.From {
			continue
		}
		cur, err := e.currentFacts(ctx, sw.From)
		if err != nil {
			return nil, err
		}
		why := fmt.Sprintf("group %s failed over from %s to %s at %s by %s (%s)", g.Name, sw.From, sw.To,
			sw.FinishedAt.UTC().Format(time.RFC3339), sw.Requester, sw.Reason)
		for _, svc := range e.Project.Services {
			d := cur.Current[plan.Pair{Service: svc.Name, Environment: sw.From}]
			if d == nil || svc.Health == nil {
				continue
			}
			item := DriftItem{Service: svc.Name, Environment: sw.From, Kind: DriftFailover, Deployment: d.ID}
			c, err := e.Recheck(ctx, d, cur.Current)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, ctx.Err()
			case err != nil:
				item.Detail = fmt.Sprintf("%s; %s's health check could not run: %v", why, svc.Name, err)
			case c.Health == strata.Unhealthy:
				item.Detail = fmt.Sprintf("%s; %s is not healthy there again: %s", why, svc.Name, c.Detail)
			default:
				continue
			}
			out = append(out, item)
		}
	}
	return out, nil
}
