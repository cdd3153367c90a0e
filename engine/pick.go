package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
)

// Pick is the release `deploy SERVICE --env ENV` chose when no version was named, and the
// newer ones it passed over, each with why.
type Pick struct {
	Version string        `json:"version"`
	Skipped []SkippedPick `json:"skipped"`
}

// SkippedPick is a newer release that `deploy` without a version passed over.
type SkippedPick struct {
	Version string `json:"version"`
	Why     string `json:"why"`
}

// pickHistory bounds how much of a pair's history PickRelease reads: the newest deployments
// are the ones that say which releases failed there lately.
const pickHistory = 256

// PickRelease returns the release `deploy SERVICE --env ENV` deploys when no version is
// named: the newest that is not recalled and has not failed or been rolled back in env (its
// newest deployment there failed, or was rolled back, or a rollback moved env off it and it
// has not succeeded there since). ENOTFOUND when no release qualifies, naming why each was
// passed over.
func (e *Engine) PickRelease(ctx context.Context, service, env string) (*Pick, error) {
	if _, _, err := e.lookup(service, env); err != nil {
		return nil, err
	}
	rs, err := e.Store.Releases(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("list releases of %s: %w", service, err)
	}
	if len(rs) == 0 {
		return nil, strata.Errorf(strata.ENOTFOUND, "%s has no releases yet; run `strata release %s`", service, service)
	}
	bad, err := e.badIn(ctx, service, env)
	if err != nil {
		return nil, err
	}
	pick := &Pick{Skipped: []SkippedPick{}}
	for _, r := range rs {
		why := bad[r.Version]
		if r.Recalled != nil {
			why = fmt.Sprintf("recalled by %s: %s", r.Recalled.By, r.Recalled.Reason)
		}
		if why == "" {
			pick.Version = r.Version
			return pick, nil
		}
		pick.Skipped = append(pick.Skipped, SkippedPick{Version: r.Version, Why: why})
	}
	var parts []string
	for _, s := range pick.Skipped {
		parts = append(parts, s.Version+" "+s.Why)
	}
	return nil, strata.Errorf(strata.ENOTFOUND, "%s has no release that may be deployed to %s (%s); name one with %s@VERSION",
		service, env, strings.Join(parts, "; "), service)
}

// badIn says, by version, why a release of service is passed over in env: its newest
// deployment there failed or was rolled back, or a rollback moved env off it since.
func (e *Engine) badIn(ctx context.Context, service, env string) (map[string]string, error) {
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Service: service, Environment: env, Limit: pickHistory})
	if err != nil {
		return nil, fmt.Errorf("read the history of %s in %s: %w", service, env, err)
	}
	slices.Reverse(ds) // oldest first: each deployment judges the one it replaced
	bad := map[string]string{}
	current := ""
	for _, d := range ds {
		if e.stale(d) {
			continue
		}
		switch d.State {
		case strata.Failed:
			bad[d.Version] = fmt.Sprintf("failed in %s (%s)", env, d.ID)
		case strata.RolledBack:
			bad[d.Version] = fmt.Sprintf("was rolled back in %s (%s)", env, d.ID)
		case strata.Succeeded:
			if d.Kind == KindRollback && current != "" && current != d.Version {
				bad[current] = fmt.Sprintf("was rolled back in %s (%s)", env, d.ID)
			}
			delete(bad, d.Version)
			current = d.Version
		}
	}
	return bad, nil
}
