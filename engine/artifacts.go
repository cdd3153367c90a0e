package engine

import (
	"fmt"

	"github.com/strata-dev/strata"
)

// artifactDir is where a release's artifacts live on this machine: StateDir/artifacts/<sha256
// hex>, in the cache of bundles (bundles.go).
func (e *Engine) artifactDir(rel *strata.Release) string {
	return e.local().ArtifactsPath(rel.Digest)
}

// verifyArtifacts hashes a release's artifacts, and its recipe, again before a deployment uses them, so that
// every environment gets the bytes the release was built with: artifact files are
// read-only, but a step running as root, or one that made them writable, could still change
// them. It returns why they cannot be used, or "".
func (e *Engine) verifyArtifacts(rel *strata.Release) string {
	dir := e.artifactDir(rel)
	got, err := digestDir(dir)
	if err != nil {
		return fmt.Sprintf("the artifacts of %s@%s cannot be read (%v); release it again under a new version", rel.Service, rel.Version, err)
	}
	if got != rel.Digest {
		return fmt.Sprintf("the artifacts of %s@%s in %s were changed after the build (digest %s, recorded %s); release it again under a new version", rel.Service, rel.Version, dir, short(got), short(rel.Digest))
	}
	return e.verifyRecipe(rel)
}
