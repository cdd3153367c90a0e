package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/step"
)

// ReleaseResult is what `strata release` did: the release, and the deployments and
// promotions that landed it in the auto stages.
type ReleaseResult struct {
	Release     *strata.Release
	Reused      bool
	Promotions  []*PromotionResult
	Deployments []*strata.Deployment
}

// Release builds service once, stores its artifacts under their digest, records the
// release, then lands it in every leading auto stage in order, each only once the one
// before is healthy. An existing version with other bytes is refused (ECONFLICT); with the
// same bytes it is reused.
func (e *Engine) Release(ctx context.Context, service, version string) (*ReleaseResult, error) {
	return e.ReleaseFrom(ctx, ReleaseSpec{Service: service, Version: version})
}

// ReleaseSpec says what a release is made from. With neither Artifacts nor Bundle, the
// service's build step makes the artifacts and the recipe is copied from the project.
type ReleaseSpec struct {
	Service, Version string
	// Artifacts are files or directories built elsewhere (by CI), recorded as the release's
	// artifacts instead of running build: a file lands at the top of the artifact
	// directory under its own name, a directory's contents are copied as they are.
	Artifacts []string
	// Bundle is the digest of a bundle uploaded beforehand (StoreUpload): its artifacts
	// and recipe become the release's, built and copied where the client is.
	Bundle string
}

// ReleaseFrom makes a release as spec says, records it, then lands it in every leading auto
// stage in order, each only once the one before is healthy. An existing version with other
// bytes (artifacts or recipe) is refused (ECONFLICT); with the same bytes it is reused.
func (e *Engine) ReleaseFrom(ctx context.Context, spec ReleaseSpec) (*ReleaseResult, error) {
	service, version := spec.Service, spec.Version
	if len(spec.Artifacts) > 0 && spec.Bundle != "" {
		return nil, strata.Errorf(strata.EINVALID, "--artifact and an uploaded bundle both given; give one")
	}
	svc := e.Project.Service(service)
	if svc == nil {
		return nil, notFound("service", service, e.Project.ServiceNames())
	}
	if version == "" {
		version = e.defaultVersion()
	}
	if err := checkVersion(version); err != nil {
		return nil, err
	}
	var digest, recipe, dir string
	var err error
	switch {
	case spec.Bundle != "":
		digest, recipe, err = e.uploaded(ctx, spec.Bundle)
		dir = "the uploaded bundle " + short(spec.Bundle)
	case len(spec.Artifacts) > 0:
		digest, dir, err = e.storeArtifacts(svc, spec.Artifacts)
		if err == nil {
			recipe, err = e.storeRecipe(svc)
		}
	default:
		// The recipe is checked before the build runs, so a bad bundle entry wastes no build.
		if _, err = e.recipeFileList(svc); err == nil {
			digest, dir, err = e.build(ctx, svc, version)
		}
		if err == nil {
			recipe, err = e.storeRecipe(svc)
		}
	}
	if err != nil {
		return nil, err
	}
	bundle := strata.BundleDigest(digest, recipe)
	res := &ReleaseResult{}
	old, err := e.Store.Release(ctx, service, version)
	switch {
	case err == nil && old.Digest != digest:
		return nil, strata.Errorf(strata.ECONFLICT, "%s@%s exists already with digest %s, and this build gave %s; releases are immutable: choose another --version", service, version, short(old.Digest), short(digest))
	case err == nil && old.Bundle != "" && old.Bundle != bundle:
		return nil, strata.Errorf(strata.ECONFLICT, "%s@%s exists already with other step files (recipe %s, now %s): a release keeps the scripts it was made with; choose another --version to release the edit", service, version, short(old.Recipe), short(recipe))
	case err == nil:
		// The store may have lost the bundle since (`strata gc`): the same bytes restore it.
		if _, err := e.keepBundle(ctx, digest, recipe); err != nil {
			return nil, err
		}
		res.Release, res.Reused = old, true
		e.logf("%s@%s exists with the same bytes (%s); reusing it", service, version, short(digest))
	case strata.ErrorCode(err) == strata.ENOTFOUND:
		// The bundle is kept before the release that names it is recorded.
		if _, err := e.keepBundle(ctx, digest, recipe); err != nil {
			return nil, err
		}
		r := &strata.Release{Service: service, Version: version, Digest: digest, Recipe: recipe, Bundle: bundle, Commit: e.gitCommit(), CreatedBy: e.Actor, CreatedAt: e.now()}
		if spec.Bundle != "" {
			r.Commit = "" // the server's checkout says nothing of where the client built it
		}
		if err := e.Store.CreateRelease(ctx, r, e.event("release", service, "", "", map[string]string{"version": version, "digest": digest, "bundle": bundle, "commit": r.Commit})); err != nil {
			return nil, fmt.Errorf("record release %s@%s: %w", service, version, err)
		}
		res.Release = r
		e.logf("released %s@%s (%s) from %s", service, version, short(digest), dir)
	default:
		return nil, fmt.Errorf("look up release %s@%s: %w", service, version, err)
	}
	err = e.landAuto(ctx, res)
	return res, err
}

// landAuto promotes the release through the leading auto stages, stopping at the first
// that waits or fails. A recalled release (one released again) lands nowhere.
func (e *Engine) landAuto(ctx context.Context, res *ReleaseResult) error {
	if len(e.Project.Pipeline) == 0 || !e.Project.Pipeline[0].Auto {
		return nil
	}
	if r := res.Release.Recalled; r != nil {
		e.logf("%s@%s was recalled by %s (%s): it lands in no stage", res.Release.Service, res.Release.Version, r.By, r.Reason)
		return nil
	}
	pr, err := e.Promote(ctx, PromoteRequest{Service: res.Release.Service, Version: res.Release.Version, To: e.Project.Pipeline[0].Name, Auto: true})
	if pr != nil {
		res.Promotions = append(res.Promotions, pr.Chain()...)
		for _, p := range pr.Chain() {
			res.Deployments = append(res.Deployments, p.Deployments...)
		}
	}
	return err
}

// build runs the service's build step into a fresh directory, then moves the artifacts to
// StateDir/artifacts/<digest>, read-only. A failed build records nothing.
func (e *Engine) build(ctx context.Context, svc *strata.Service, version string) (digest, dir string, err error) {
	root := filepath.Join(e.StateDir, "artifacts")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", "", fmt.Errorf("build %s: %w", svc.Name, err)
	}
	tmp, err := os.MkdirTemp(root, ".build-")
	if err != nil {
		return "", "", fmt.Errorf("build %s: %w", svc.Name, err)
	}
	defer os.RemoveAll(tmp)
	if svc.Build != nil {
		env := append(append([]string{}, e.BaseEnv...),
			"STRATA_PROJECT="+e.Project.Name, "STRATA_SERVICE="+svc.Name, "STRATA_VERSION="+version,
			"STRATA_ARTIFACTS="+tmp, "STRATA_STEP=build")
		start := time.Now()
		e.logf("▸ %s: build %s", svc.Name, version)
		timeout := svc.Build.Timeout
		if timeout == 0 {
			timeout = 30 * time.Minute
		}
		cmd, err := layer.ExpandReleaseCommand(e.Project, svc.Name, svc.Build.Run, svc.Build.Pos, &layer.Runtime{Version: version})
		if err != nil {
			return "", "", err
		}
		env = append(env, cmd.Env...)
		out := e.stepOutput(svc.Name, "build", nil)
		stop := e.progress(svc.Name, "build")
		res, err := e.runStep(ctx, step.Spec{Name: "build", Command: cmd.Text, Dir: e.Project.Dir, Env: env, Timeout: timeout, Output: out})
		stop()
		out.Flush()
		if err != nil {
			return "", "", fmt.Errorf("build %s@%s: %w", svc.Name, version, err)
		}
		if res.ExitCode != 0 {
			return "", "", strata.Errorf(strata.EFAILED, "build %s@%s failed: exit status %d; nothing was released", svc.Name, version, res.ExitCode)
		}
		e.logf("✓ %s: built in %s", svc.Name, time.Since(start).Round(time.Millisecond))
	}
	digest, err = commitDir(tmp, root)
	if err != nil {
		return "", "", fmt.Errorf("store %s artifacts: %w", svc.Name, err)
	}
	return digest, filepath.Join(root, strings.TrimPrefix(digest, "sha256:")), nil
}

// digestDir hashes every file's relative path, type and execute bits, and bytes (a link's
// target), in byte order of the paths: the tree digest of strata.TreeHasher, which a store
// computes over the same tree as a tar stream.
func digestDir(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := strata.NewTreeHasher()
	for _, path := range files {
		info, err := os.Lstat(path)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, path)
		if err := h.Begin(filepath.ToSlash(rel), info.Mode()); err != nil {
			return "", err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			if err != nil {
				return "", err
			}
			io.WriteString(h, target)
			h.End()
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
		h.End()
	}
	return h.Digest(), nil
}

func readOnly(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 || path == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		return os.Chmod(path, info.Mode().Perm()&^0o222)
	})
}

// defaultVersion is `git describe --always --dirty` in the project, else a UTC timestamp.
func (e *Engine) defaultVersion() string {
	out, err := e.git("describe", "--always", "--dirty")
	if err == nil && out != "" {
		return out
	}
	return e.now().UTC().Format("20060102.150405")
}

func (e *Engine) gitCommit() string {
	out, _ := e.git("rev-parse", "HEAD")
	return out
}

func (e *Engine) git(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = e.Project.Dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

func checkVersion(v string) error {
	if v == "" || len(v) > 128 || strings.ContainsAny(v, " \t\n/@\\") || strata.CheckLine("--version", v) != nil {
		return strata.Errorf(strata.EINVALID, "--version %q: a version is 1 to 128 printable characters without spaces, '/', '\\' or '@' (e.g. 1.4.2 or 2026.11.23-1)", v)
	}
	return nil
}

func short(digest string) string {
	d := strings.TrimPrefix(digest, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return "sha256:" + d
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
