package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/bundledir"
)

// A release's bundle lives in the store (strata.BundleStore), where every machine on the
// store can fetch it, and, once used here, in this machine's cache under StateDir
// (artifacts/, recipes/, bundles/: a bundledir), from which steps read it. With the
// default SQLite store the two are the same directory, so nothing is copied; with
// PostgreSQL, or SQLite elsewhere, the first use on a machine fetches the bundle and checks
// its digest before anything runs.

// BundleSource is where bundles are fetched from: a strata.BundleStore, or a server.
type BundleSource interface {
	// OpenBundle returns the bundle's tar stream; ENOTFOUND when there is none.
	OpenBundle(ctx context.Context, digest string) (io.ReadCloser, error)
}

// source is where bundles this machine lacks come from: Bundles, else the store.
func (e *Engine) source() BundleSource {
	if e.Bundles != nil {
		return e.Bundles
	}
	return e.Store
}

// local is this machine's cache of bundles.
func (e *Engine) local() *bundledir.Dir { return bundledir.New(e.StateDir, e.Now) }

// keepBundle makes sure the store keeps the bundle of the trees artifacts and recipe, which
// a build or a copy has just put in the cache: a release is recorded only once every
// machine can fetch what it names. It returns the bundle's digest.
func (e *Engine) keepBundle(ctx context.Context, artifacts, recipe string) (string, error) {
	digest := strata.BundleDigest(artifacts, recipe)
	if _, err := e.Store.Bundle(ctx, digest); strata.ErrorCode(err) != strata.ENOTFOUND {
		return digest, err
	}
	local := e.local()
	if _, err := local.Adopt(ctx, artifacts, recipe); err != nil {
		return "", fmt.Errorf("keep bundle %s: %w", short(digest), err)
	}
	if _, err := e.Store.Bundle(ctx, digest); strata.ErrorCode(err) != strata.ENOTFOUND {
		return digest, err // the cache is the store's own directory
	}
	rc, err := local.OpenBundle(ctx, digest)
	if err != nil {
		return "", fmt.Errorf("keep bundle %s: %w", short(digest), err)
	}
	defer rc.Close()
	if _, err := e.Store.PutBundle(ctx, digest, rc); err != nil {
		return "", fmt.Errorf("keep bundle %s in the store: %w", short(digest), err)
	}
	e.logf("  kept bundle %s in the store", short(digest))
	return digest, nil
}

// ensureBundle makes sure rel's bundle is in this machine's cache before anything of it
// runs, fetching it from the store when it is not, and checking the fetched stream against
// the release's digest before it is kept. It is called before a deployment is claimed: a
// bundle the store lacks is EBLOCKED (it may be released again), and one whose content does
// not match is EFAILED and final (strata.Terminal), neither recorded as a deployment of the
// environment. A bundle in the cache is checked
// where it is used (verifyArtifacts), as before.
func (e *Engine) ensureBundle(ctx context.Context, rel *strata.Release) error {
	if rel.Bundle == "" || e.cached(rel) {
		return nil // a release made before bundles has only the copy its machine made
	}
	rc, err := e.source().OpenBundle(ctx, rel.Bundle)
	if strata.ErrorCode(err) == strata.ENOTFOUND {
		return strata.Errorf(strata.EBLOCKED, "gate bundle: the bundle of %s@%s (%s) is neither on this machine nor in the store (removed by `strata gc`, or released before the store kept bundles); "+
			"release %s again from the build (the same bytes restore it: `strata release %s --version %s --artifact PATH`, with --server to upload it), or release a new version",
			rel.Service, rel.Version, rel.Bundle, rel.Service, rel.Service, rel.Version)
	}
	if err != nil {
		return fmt.Errorf("fetch the bundle of %s@%s: %w", rel.Service, rel.Version, err)
	}
	defer rc.Close()
	info, err := e.local().PutBundle(ctx, rel.Bundle, rc)
	if errors.Is(err, strata.ErrBundleDigest) {
		// Final: fetching the same bytes again cannot mend them (a scheduler stops trying).
		return strata.Terminal(strata.Errorf(strata.EFAILED, "the bundle of %s@%s fetched from the store is damaged: %w; nothing of it ran. Release %s again under a new version (or with the same bytes after `strata gc` removed the damaged copy)",
			rel.Service, rel.Version, err, rel.Service))
	}
	if err != nil {
		return fmt.Errorf("fetch the bundle of %s@%s: %w", rel.Service, rel.Version, err)
	}
	if info.Artifacts != rel.Digest || info.Recipe != rel.Recipe {
		return strata.Terminal(strata.Errorf(strata.EFAILED, "the bundle %s holds artifacts %s and recipe %q, but %s@%s records %s and %q; nothing of it ran",
			short(rel.Bundle), short(info.Artifacts), info.Recipe, rel.Service, rel.Version, short(rel.Digest), rel.Recipe))
	}
	e.logf("  fetched bundle %s of %s@%s from the store (%d bytes)", short(rel.Bundle), rel.Service, rel.Version, info.Size)
	return nil
}

// cached reports whether rel's trees are in this machine's cache (whole or not: what is
// there is checked where it is used).
func (e *Engine) cached(rel *strata.Release) bool {
	if _, err := os.Lstat(e.artifactDir(rel)); errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if rel.Recipe != "" {
		if _, err := os.Lstat(e.recipeDir(rel)); errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}
