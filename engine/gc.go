package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
)

// DefaultKeep is how many of each service's newest releases `strata gc` keeps the bundles of
// when --keep is not given.
const DefaultKeep = 10

// DefaultMinAge is how young a bundle `strata gc` keeps regardless, when --min-age is not
// given: an upload is followed by the release that names it, and a collection between the
// two must not remove what is about to be named.
const DefaultMinAge = time.Hour

// GCOptions says what a collection keeps and whether it removes anything.
type GCOptions struct {
	// Keep is how many of each service's newest releases keep their bundles.
	Keep int
	// MinAge keeps every bundle kept for less than this long.
	MinAge time.Duration
	// DryRun only says what would be removed.
	DryRun bool
}

// GCResult is what a collection of bundles removed, or would remove (DryRun).
type GCResult struct {
	Removed []GCBundle
	// Kept is how many bundles stay; Bytes is how many bytes the removed ones held.
	Kept   int
	Bytes  int64
	DryRun bool
}

// GCBundle is one bundle a collection removed, with the releases that named it.
type GCBundle struct {
	Digest   string
	Bytes    int64
	Releases []string // SERVICE@VERSION, newest first
}

// GC removes the bundles no release that can still be deployed needs. It keeps the bundle
// of: each service's o.Keep newest releases; what runs in each (service, environment) and
// the release before it there (the target of a rollback); every deployment still pending,
// running or interrupted; every release a waiting or running promotion names; and any
// bundle kept for less than o.MinAge (an upload whose release is on its way). With o.DryRun
// it only says what it would remove. The run is audited ("gc") before anything is removed.
func (e *Engine) GC(ctx context.Context, o GCOptions) (*GCResult, error) {
	if o.Keep < 0 {
		return nil, strata.Errorf(strata.EINVALID, "--keep %d: want 0 or more releases of each service to keep", o.Keep)
	}
	if o.MinAge < 0 {
		return nil, strata.Errorf(strata.EINVALID, "--min-age %s: want 0 or more (e.g. 1h)", o.MinAge)
	}
	keep, dryRun := o.Keep, o.DryRun
	needed, named, err := e.neededBundles(ctx, keep)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	all, err := e.Store.Bundles(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	res := &GCResult{DryRun: dryRun}
	now := e.now()
	for _, b := range all {
		if needed[b.Digest] || now.Sub(b.CreatedAt) < o.MinAge {
			res.Kept++
			continue
		}
		res.Removed = append(res.Removed, GCBundle{Digest: b.Digest, Bytes: b.Size, Releases: named[b.Digest]})
		res.Bytes += b.Size
	}
	if dryRun || len(res.Removed) == 0 {
		return res, nil
	}
	digests := make([]string, len(res.Removed))
	for i, b := range res.Removed {
		digests[i] = b.Digest
	}
	// Recorded before the removal it announces: a crash half way leaves an audited run
	// whose rest the next gc removes.
	ev := e.event("gc", "", "", "", map[string]any{"removed": digests, "bytes": res.Bytes, "keep": keep})
	if err := e.Store.AppendEvent(ctx, ev); err != nil {
		return nil, fmt.Errorf("gc: record the run: %w", err)
	}
	local := e.local()
	for _, d := range digests {
		if err := e.Store.DeleteBundle(ctx, d); err != nil && strata.ErrorCode(err) != strata.ENOTFOUND {
			return res, fmt.Errorf("gc: %w", err)
		}
		// This machine's copy goes too (with the default SQLite store it was the store's).
		if err := local.DeleteBundle(ctx, d); err != nil && strata.ErrorCode(err) != strata.ENOTFOUND {
			return res, fmt.Errorf("gc: %w", err)
		}
		e.logf("removed bundle %s", short(d))
	}
	return res, nil
}

// neededBundles returns the bundles GC keeps, and for every bundle the releases naming it.
func (e *Engine) neededBundles(ctx context.Context, keep int) (needed map[string]bool, named map[string][]string, err error) {
	rels, err := e.Store.Releases(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	needed, named = map[string]bool{}, map[string][]string{}
	bundleOf := map[[2]string]string{} // (service, version) -> bundle
	perService := map[string]int{}
	for _, r := range rels { // newest first
		if r.Bundle == "" {
			continue
		}
		bundleOf[[2]string{r.Service, r.Version}] = r.Bundle
		named[r.Bundle] = append(named[r.Bundle], r.Service+"@"+r.Version)
		if perService[r.Service] < keep {
			needed[r.Bundle] = true
		}
		perService[r.Service]++
	}
	need := func(service, version string) {
		if b := bundleOf[[2]string{service, version}]; b != "" {
			needed[b] = true
		}
	}
	active, err := e.Store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Pending, strata.Running, strata.Interrupted}})
	if err != nil {
		return nil, nil, err
	}
	for _, d := range active {
		need(d.Service, d.Version)
	}
	// What runs in each pair and the version before it there: the newest two distinct
	// versions of its succeeded deployments (newest first).
	good, err := e.Store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Succeeded}})
	if err != nil {
		return nil, nil, err
	}
	seen := map[[2]string][]string{}
	for _, d := range good {
		pair := [2]string{d.Service, d.Environment}
		vs := seen[pair]
		if len(vs) < 2 && (len(vs) == 0 || vs[0] != d.Version) {
			seen[pair] = append(vs, d.Version)
			need(d.Service, d.Version)
		}
	}
	ps, err := e.Store.Promotions(ctx, strata.PromotionFilter{States: []string{strata.Waiting, strata.Running}})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range ps {
		need(p.Service, p.Version)
	}
	return needed, named, nil
}
