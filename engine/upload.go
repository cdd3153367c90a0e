package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/bundledir"
)

// A bundle travels as a tar stream of two trees, artifacts/ and recipe/, named by the one
// digest bundleDigest gives over the digests of the two. CI makes it where the release was
// built (WriteBundle) and a server takes it (StoreUpload), checking the digest before it
// keeps anything, so what runs is what the client built.

// MaxUpload is the default cap on an uploaded bundle's bytes, after which the upload is
// refused: a bundle is one service's build, and a runaway upload must not fill the disk.
const MaxUpload = 1 << 30

// storeArtifacts copies files or directories built elsewhere into a fresh artifact
// directory and stores it under its digest, as build does with what the build step leaves.
// A missing path is EINVALID naming --artifact.
func (e *Engine) storeArtifacts(svc *strata.Service, paths []string) (digest, dir string, err error) {
	root := filepath.Join(e.StateDir, "artifacts")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", "", fmt.Errorf("store %s artifacts: %w", svc.Name, err)
	}
	tmp, err := os.MkdirTemp(root, ".copy-")
	if err != nil {
		return "", "", fmt.Errorf("store %s artifacts: %w", svc.Name, err)
	}
	defer os.RemoveAll(tmp)
	if err := CopyArtifacts(tmp, paths); err != nil {
		return "", "", err
	}
	digest, err = commitDir(tmp, root)
	if err != nil {
		return "", "", fmt.Errorf("store %s artifacts: %w", svc.Name, err)
	}
	return digest, filepath.Join(root, strings.TrimPrefix(digest, "sha256:")), nil
}

// CopyArtifacts copies each of paths into dst: a file under its own name, a directory's
// contents as they are. A missing path, a link, or two paths giving the same name are
// EINVALID naming --artifact.
func CopyArtifacts(dst string, paths []string) error {
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return strata.Errorf(strata.EINVALID, "--artifact %q: %w; name a file or directory the build made", p, unwrapPath(err))
		}
		if !info.IsDir() {
			if err := copyArtifact(p, filepath.Join(dst, filepath.Base(p))); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return strata.Errorf(strata.EINVALID, "--artifact %q: %w", p, unwrapPath(err))
			}
			rel, _ := filepath.Rel(p, path)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			return copyArtifact(path, filepath.Join(dst, rel))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func copyArtifact(src, dst string) error {
	info, err := os.Lstat(src)
	if err != nil {
		return strata.Errorf(strata.EINVALID, "--artifact %q: %w", src, unwrapPath(err))
	}
	if !info.Mode().IsRegular() {
		return strata.Errorf(strata.EINVALID, "--artifact %q is not a regular file (a link or device); copy what it points to into the artifacts instead", src)
	}
	if _, err := os.Lstat(dst); err == nil {
		return strata.Errorf(strata.EINVALID, "--artifact %q: two artifacts are named %s; rename one or put them in a directory", src, filepath.Base(dst))
	}
	if err := copyFile(src, dst); err != nil {
		return fmt.Errorf("--artifact %q: %w", src, err)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// BundleFiles returns the project-relative paths of the recipe files a release of service
// would copy, for a client that uploads them.
func (e *Engine) BundleFiles(service string) ([]string, error) {
	svc := e.Project.Service(service)
	if svc == nil {
		return nil, notFound("service", service, e.Project.ServiceNames())
	}
	return e.recipeFileList(svc)
}

// Bundle is a bundle made where the release was built, ready to upload: the artifacts a
// client gathered and a copy of the project's recipe files, with their one digest.
type Bundle struct {
	// Digest is the bundle's digest, which the server checks the stream against.
	Digest    string
	artifacts string
	recipe    string // a temporary copy of the recipe files, "" when there are none
	// stored says artifacts and recipe are the stored trees (OpenBundle), which Close leaves.
	stored bool
}

// NewBundle digests the artifacts directory (made by CopyArtifacts) and a copy of recipe
// (paths relative to the project directory dir). Close removes the copy.
func NewBundle(artifacts, dir string, recipe []string) (*Bundle, error) {
	b := &Bundle{artifacts: artifacts}
	ad, err := digestDir(artifacts)
	if err != nil {
		return nil, err
	}
	rd := ""
	if len(recipe) > 0 {
		if b.recipe, err = os.MkdirTemp("", "strata-recipe-"); err != nil {
			return nil, err
		}
		for _, f := range recipe {
			if err := copyFile(filepath.Join(dir, filepath.FromSlash(f)), filepath.Join(b.recipe, filepath.FromSlash(f))); err != nil {
				b.Close()
				return nil, err
			}
		}
		if rd, err = digestDir(b.recipe); err != nil {
			b.Close()
			return nil, err
		}
	}
	b.Digest = strata.BundleDigest(ad, rd)
	return b, nil
}

// Close removes the bundle's temporary copy of the recipe.
func (b *Bundle) Close() error {
	if b.recipe == "" || b.stored {
		return nil
	}
	return os.RemoveAll(b.recipe)
}

// WriteTo writes the bundle's tar stream: artifacts/... then recipe/..., each in byte order
// of the names, as every store takes it (strata.ScanBundle).
func (b *Bundle) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	err := bundledir.WriteTar(cw, b.artifacts, b.recipe)
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// StoreUpload reads a bundle's tar stream and keeps it in the store under want, reading at
// most limit bytes. The store checks the digest as the stream arrives and keeps nothing of a
// stream whose content gives another digest, that holds a path leaving the bundle, or
// anything but regular files and links: each is EINVALID.
func (e *Engine) StoreUpload(ctx context.Context, r io.Reader, want string, limit int64) error {
	if err := strata.CheckDigest("bundle digest", want); err != nil {
		return err
	}
	if limit <= 0 {
		limit = MaxUpload
	}
	lr := &limitReader{r: r, left: limit}
	var err error
	if _, found := e.Store.Bundle(ctx, want); found == nil {
		// Kept already: the client is still sending, and an answer before the body's end
		// would reach it as a broken connection rather than as success.
		_, err = io.Copy(io.Discard, lr)
	} else {
		_, err = e.Store.PutBundle(ctx, want, lr)
	}
	if lr.over {
		return strata.Errorf(strata.EINVALID, "the bundle is larger than the server's cap of %d MiB (serve --max-upload); ship large files elsewhere or raise the cap", limit>>20)
	}
	if err != nil {
		return fmt.Errorf("store the uploaded bundle: %w", err)
	}
	return nil
}

// uploaded returns the artifact and recipe digests of a bundle the store keeps (an upload
// put it there, and the store checked it against its digest then).
func (e *Engine) uploaded(ctx context.Context, bundle string) (digest, recipe string, err error) {
	if err := strata.CheckDigest("bundle", bundle); err != nil {
		return "", "", strata.Errorf(strata.EINVALID, "bundle %q is not a digest; upload the bundle first", bundle)
	}
	info, err := e.Store.Bundle(ctx, bundle)
	if strata.ErrorCode(err) == strata.ENOTFOUND {
		return "", "", strata.Errorf(strata.ENOTFOUND, "no uploaded bundle %s; upload it first (strata release --artifact with --server does)", short(bundle))
	}
	if err != nil {
		return "", "", fmt.Errorf("read uploaded bundle %s: %w", short(bundle), err)
	}
	return info.Artifacts, info.Recipe, nil
}

// limitReader reads at most left bytes and then reports that the stream was longer.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			l.over = true
			return 0, errors.New("upload over the size cap")
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// FetchBundle keeps the bundle named digest in this machine's cache, unless it is there
// already, from fetch's stream (a server's GET /api/v1/bundles/{digest}), reading at most
// limit bytes (0: MaxUpload). The cache checks the stream against the digest as it arrives
// and keeps nothing of one whose content gives another (EINVALID). An agent calls it before
// it runs a job, so that what runs is what was released.
func (e *Engine) FetchBundle(ctx context.Context, digest string, limit int64, fetch func(ctx context.Context) (io.ReadCloser, error)) error {
	if err := strata.CheckDigest("bundle digest", digest); err != nil {
		return err
	}
	local := e.local()
	if _, err := local.Bundle(ctx, digest); err == nil {
		return nil
	}
	r, err := fetch(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	if limit <= 0 {
		limit = MaxUpload
	}
	lr := &limitReader{r: r, left: limit}
	_, err = local.PutBundle(ctx, digest, lr)
	switch {
	case lr.over:
		return strata.Errorf(strata.EINVALID, "fetch bundle %s: larger than the cap of %d MiB", short(digest), limit>>20)
	case errors.Is(err, strata.ErrBundleDigest):
		return strata.Errorf(strata.EINVALID, "fetch bundle %s: %w", short(digest), err)
	case err != nil:
		return fmt.Errorf("fetch bundle %s: %w", short(digest), err)
	}
	return nil
}
