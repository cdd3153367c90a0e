package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
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
			return strata.Errorf(strata.EINVALID, "--artifact %q: %v; name a file or directory the build made", p, unwrapPath(err))
		}
		if !info.IsDir() {
			if err := copyArtifact(p, filepath.Join(dst, filepath.Base(p))); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return strata.Errorf(strata.EINVALID, "--artifact %q: %v", p, unwrapPath(err))
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
		return strata.Errorf(strata.EINVALID, "--artifact %q: %v", src, unwrapPath(err))
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
		return nil, strata.Errorf(strata.ENOTFOUND, "unknown service %q; known: %s", service, strings.Join(e.Project.ServiceNames(), ", "))
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
	b.Digest = bundleDigest(ad, rd)
	return b, nil
}

// Close removes the bundle's temporary copy of the recipe.
func (b *Bundle) Close() error {
	if b.recipe == "" || b.stored {
		return nil
	}
	return os.RemoveAll(b.recipe)
}

// WriteTo writes the bundle's tar stream: artifacts/... then recipe/....
func (b *Bundle) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	add := func(prefix, root string) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return fmt.Errorf("bundle: %s is not a regular file", p)
			}
			rel, _ := filepath.Rel(root, p)
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			hdr := &tar.Header{Name: prefix + filepath.ToSlash(rel), Mode: int64(info.Mode().Perm()), Size: info.Size(), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			return err
		})
	}
	if err := add("artifacts/", b.artifacts); err != nil {
		return cw.n, err
	}
	if b.recipe != "" {
		if err := add("recipe/", b.recipe); err != nil {
			return cw.n, err
		}
	}
	return cw.n, tw.Close()
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

// StoreUpload reads a bundle's tar stream, stores its artifacts and recipe under their
// digests, and records that want names them; at most limit bytes are read. The digest is
// checked before anything is kept: a stream whose content gives another digest, a path that
// leaves the bundle, or anything but regular files is EINVALID and leaves nothing behind.
func (e *Engine) StoreUpload(r io.Reader, want string, limit int64) error {
	if !strings.HasPrefix(want, "sha256:") || len(want) != len("sha256:")+64 {
		return strata.Errorf(strata.EINVALID, "bundle digest %q: want sha256: and 64 hex digits", want)
	}
	if limit <= 0 {
		limit = MaxUpload
	}
	root := filepath.Join(e.StateDir, "uploads")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("store upload: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".upload-")
	if err != nil {
		return fmt.Errorf("store upload: %w", err)
	}
	defer os.RemoveAll(tmp)
	lr := &limitReader{r: r, left: limit}
	tr := tar.NewReader(lr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if lr.over {
				return strata.Errorf(strata.EINVALID, "the bundle is larger than the server's cap of %d MiB (serve --max-upload); ship large files elsewhere or raise the cap", limit>>20)
			}
			return strata.Errorf(strata.EINVALID, "the bundle is not a valid tar stream: %v", err)
		}
		name := path.Clean(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || name != hdr.Name || path.IsAbs(name) || strings.HasPrefix(name, "../") ||
			!(strings.HasPrefix(name, "artifacts/") || strings.HasPrefix(name, "recipe/")) {
			return strata.Errorf(strata.EINVALID, "the bundle holds %q, which is not a regular file under artifacts/ or recipe/", hdr.Name)
		}
		dst := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("store upload: %w", err)
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(hdr.Mode&0o755)|0o600)
		if err != nil {
			return strata.Errorf(strata.EINVALID, "the bundle holds %q twice or in a bad place: %v", hdr.Name, unwrapPath(err))
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			if lr.over {
				return strata.Errorf(strata.EINVALID, "the bundle is larger than the server's cap of %d MiB (serve --max-upload); ship large files elsewhere or raise the cap", limit>>20)
			}
			return strata.Errorf(strata.EINVALID, "the bundle's %q is cut short: %v", hdr.Name, err)
		}
	}
	arts, recipe := filepath.Join(tmp, "artifacts"), filepath.Join(tmp, "recipe")
	if err := os.MkdirAll(arts, 0o755); err != nil {
		return fmt.Errorf("store upload: %w", err)
	}
	ad, err := digestDir(arts)
	if err != nil {
		return fmt.Errorf("store upload: %w", err)
	}
	rd := ""
	if _, err := os.Stat(recipe); err == nil {
		if rd, err = digestDir(recipe); err != nil {
			return fmt.Errorf("store upload: %w", err)
		}
	}
	if got := bundleDigest(ad, rd); got != want {
		return strata.Errorf(strata.EINVALID, "the bundle's content has digest %s, not the %s it was sent as; nothing was stored: upload it again", short(got), short(want))
	}
	keep := []struct{ tree, root string }{{arts, "artifacts"}}
	if rd != "" {
		keep = append(keep, struct{ tree, root string }{recipe, "recipes"})
	}
	for _, k := range keep {
		root := filepath.Join(e.StateDir, k.root)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return fmt.Errorf("store upload: %w", err)
		}
		if _, err := commitDir(k.tree, root); err != nil {
			return fmt.Errorf("store upload: %w", err)
		}
	}
	manifest := fmt.Sprintf("artifacts %s\nrecipe %s\n", ad, rd)
	return rewrite(filepath.Join(root, strings.TrimPrefix(want, "sha256:")), []byte(manifest))
}

// uploaded returns the artifact and recipe digests of a bundle StoreUpload kept, checking
// them against the bundle's digest and the stored trees again.
func (e *Engine) uploaded(bundle string) (digest, recipe string, err error) {
	if !strings.HasPrefix(bundle, "sha256:") || strings.ContainsAny(bundle, "/\\.") {
		return "", "", strata.Errorf(strata.EINVALID, "bundle %q is not a digest; upload the bundle first", bundle)
	}
	data, err := os.ReadFile(filepath.Join(e.StateDir, "uploads", strings.TrimPrefix(bundle, "sha256:")))
	if err != nil {
		return "", "", strata.Errorf(strata.ENOTFOUND, "no uploaded bundle %s; upload it first (strata release --artifact with --server does)", short(bundle))
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "artifacts":
			digest = v
		case "recipe":
			recipe = v
		}
	}
	if digest == "" {
		return "", "", fmt.Errorf("read uploaded bundle %s: no artifacts digest in its record", short(bundle))
	}
	rel := &strata.Release{Service: "uploaded", Version: short(bundle), Digest: digest, Recipe: recipe}
	if why := e.verifyArtifacts(rel); why != "" {
		return "", "", strata.Errorf(strata.EINVALID, "%s", why)
	}
	if bundleDigest(digest, recipe) != bundle {
		return "", "", strata.Errorf(strata.EINVALID, "uploaded bundle %s does not match its trees; upload it again", short(bundle))
	}
	return digest, recipe, nil
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

// OpenBundle returns the stored bundle named digest, ready to stream (WriteTo): that of an
// upload, or of a release made here. Its trees are checked against their digests first, so
// that what is sent is what was released. EINVALID for a digest that is not one; ENOTFOUND
// when no upload or release has that bundle.
func (e *Engine) OpenBundle(ctx context.Context, digest string) (*Bundle, error) {
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 || strings.ContainsAny(digest, "/\\.") {
		return nil, strata.Errorf(strata.EINVALID, "bundle digest %q: want sha256: and 64 hex digits", digest)
	}
	rel := &strata.Release{Bundle: digest}
	if a, r, err := e.uploaded(digest); err == nil {
		rel.Digest, rel.Recipe = a, r
	} else {
		rs, err := e.Store.Releases(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("find bundle %s: %w", short(digest), err)
		}
		i := slices.IndexFunc(rs, func(r *strata.Release) bool { return r.Bundle == digest })
		if i < 0 {
			return nil, strata.Errorf(strata.ENOTFOUND, "no release or upload has bundle %s", short(digest))
		}
		rel = rs[i]
		if why := e.verifyArtifacts(rel); why != "" {
			return nil, strata.Errorf(strata.EINVALID, "%s", why)
		}
	}
	b := &Bundle{Digest: digest, artifacts: e.artifactDir(rel), stored: true}
	if rel.Recipe != "" {
		b.recipe = e.recipeDir(rel)
	}
	return b, nil
}

// FetchBundle stores the bundle named digest, unless it is stored already and whole, with
// fetch's stream (a server's GET /api/v1/bundles/{digest}), checked as StoreUpload checks an
// upload: a stream whose content gives another digest is EINVALID and nothing is kept. An
// agent calls it before it runs a job, so that what runs is what was released.
func (e *Engine) FetchBundle(ctx context.Context, digest string, limit int64, fetch func(ctx context.Context) (io.ReadCloser, error)) error {
	if _, _, err := e.uploaded(digest); err == nil {
		return nil
	}
	r, err := fetch(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := e.StoreUpload(r, digest, limit); err != nil {
		return fmt.Errorf("fetch bundle %s: %w", short(digest), err)
	}
	return nil
}
