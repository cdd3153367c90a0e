// Package bundledir is a strata.BundleStore kept as files in one directory: the SQLite
// store's bundles, beside its database, and every machine's local copy of the bundles it
// runs (its cache), from which steps read their artifacts and scripts.
//
// A bundle is kept as its two trees, unpacked and read-only, each under its own digest
// (ROOT/artifacts/<hex>, ROOT/recipes/<hex>, shared by bundles that have the same one), and
// a small record naming them (ROOT/bundles/<hex>.json), written last: a bundle is kept when
// its record is, so a crash half way through leaves at most an unnamed tree, never a
// record of trees that are not whole.
package bundledir

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/strata-dev/strata"
)

// Dir is a bundle store in one directory. Any number of processes may share it.
type Dir struct {
	root string
	now  func() time.Time
}

var _ strata.BundleStore = (*Dir)(nil)

// New returns the bundle store in root (made when first written). Now is the clock of the
// records' times (time.Now when nil).
func New(root string, now func() time.Time) *Dir {
	if now == nil {
		now = time.Now
	}
	return &Dir{root: root, now: now}
}

// Root is the directory the store keeps its files in.
func (d *Dir) Root() string { return d.root }

// ArtifactsPath is where the artifacts tree of digest is kept.
func (d *Dir) ArtifactsPath(digest string) string {
	return filepath.Join(d.root, "artifacts", hexOf(digest))
}

// RecipePath is where the recipe tree of digest is kept.
func (d *Dir) RecipePath(digest string) string {
	return filepath.Join(d.root, "recipes", hexOf(digest))
}

func (d *Dir) recordPath(digest string) string {
	return filepath.Join(d.root, "bundles", hexOf(digest)+".json")
}

func hexOf(digest string) string { return strings.TrimPrefix(digest, "sha256:") }

// PutBundle unpacks the stream into a temporary directory, checking its digest as it
// reads, then moves its trees into place (keeping a tree already kept) and writes the
// bundle's record.
func (d *Dir) PutBundle(ctx context.Context, digest string, r io.Reader) (*strata.BundleInfo, error) {
	if err := strata.CheckDigest("bundle digest", digest); err != nil {
		return nil, err
	}
	if info, err := d.Bundle(ctx, digest); err == nil {
		return info, nil
	}
	if err := os.MkdirAll(d.root, 0o755); err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
	}
	tmp, err := os.MkdirTemp(d.root, ".put-")
	if err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
	}
	defer removeAll(tmp)
	cr := &countReader{r: r}
	arts, recipe, err := strata.ScanBundle(cr, func(e strata.BundleEntry, body io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return unpack(filepath.Join(tmp, filepath.FromSlash(e.Tree+e.Path)), e, body)
	})
	if err != nil {
		return nil, err
	}
	if got := strata.BundleDigest(arts, recipe); got != digest {
		return nil, strata.MismatchedBundle(digest, got)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "artifacts"), 0o755); err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
	}
	if err := commitTree(filepath.Join(tmp, "artifacts"), d.ArtifactsPath(arts)); err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
	}
	if recipe != "" {
		if err := commitTree(filepath.Join(tmp, "recipe"), d.RecipePath(recipe)); err != nil {
			return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
		}
	}
	info := &strata.BundleInfo{Digest: digest, Artifacts: arts, Recipe: recipe, Size: cr.n, CreatedAt: d.now().UTC()}
	if err := d.writeRecord(info); err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
	}
	return info, nil
}

// Adopt records as a bundle the trees of artifacts and recipe ("" for none) that are in
// place already (a build moved them there), without copying them. It returns the bundle's
// info; ENOTFOUND when a tree is not in place.
func (d *Dir) Adopt(ctx context.Context, artifacts, recipe string) (*strata.BundleInfo, error) {
	digest := strata.BundleDigest(artifacts, recipe)
	if info, err := d.Bundle(ctx, digest); err == nil {
		return info, nil
	}
	rdir := ""
	if recipe != "" {
		rdir = d.RecipePath(recipe)
	}
	// The stream's length, without reading the files again: their bytes are counted, not
	// read.
	cw := &countWriter{}
	if err := writeTar(cw, d.ArtifactsPath(artifacts), rdir, false); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, strata.Errorf(strata.ENOTFOUND, "bundle %s: its trees are not in %s", digest, d.root)
		}
		return nil, fmt.Errorf("record bundle %s: %w", digest, err)
	}
	info := &strata.BundleInfo{Digest: digest, Artifacts: artifacts, Recipe: recipe, Size: cw.n, CreatedAt: d.now().UTC()}
	if err := d.writeRecord(info); err != nil {
		return nil, fmt.Errorf("record bundle %s: %w", digest, err)
	}
	return info, nil
}

// Bundle reads the bundle's record.
func (d *Dir) Bundle(ctx context.Context, digest string) (*strata.BundleInfo, error) {
	if err := strata.CheckDigest("bundle digest", digest); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(d.recordPath(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no bundle %s in %s", digest, d.root)
	}
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", digest, err)
	}
	var info strata.BundleInfo
	if err := json.Unmarshal(b, &info); err != nil || info.Digest != digest {
		return nil, fmt.Errorf("read bundle %s: its record %s is damaged", digest, d.recordPath(digest))
	}
	return &info, nil
}

// OpenBundle writes the bundle's trees as its tar stream while the caller reads it.
func (d *Dir) OpenBundle(ctx context.Context, digest string) (io.ReadCloser, error) {
	info, err := d.Bundle(ctx, digest)
	if err != nil {
		return nil, err
	}
	rdir := ""
	if info.Recipe != "" {
		rdir = d.RecipePath(info.Recipe)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(WriteTar(pw, d.ArtifactsPath(info.Artifacts), rdir))
	}()
	return pr, nil
}

// Bundles reads every record, by digest.
func (d *Dir) Bundles(ctx context.Context) ([]*strata.BundleInfo, error) {
	ents, err := os.ReadDir(filepath.Join(d.root, "bundles"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list bundles: %w", err)
	}
	var out []*strata.BundleInfo
	for _, ent := range ents {
		name, ok := strings.CutSuffix(ent.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		info, err := d.Bundle(ctx, "sha256:"+name)
		if err != nil {
			return nil, fmt.Errorf("list bundles: %w", err)
		}
		out = append(out, info)
	}
	return out, nil // ReadDir sorts by name, which is the digest
}

// DeleteBundle removes the bundle's record, then each of its trees that no other bundle's
// record names.
func (d *Dir) DeleteBundle(ctx context.Context, digest string) error {
	info, err := d.Bundle(ctx, digest)
	if err != nil {
		return err
	}
	if err := os.Remove(d.recordPath(digest)); err != nil {
		return fmt.Errorf("delete bundle %s: %w", digest, err)
	}
	rest, err := d.Bundles(ctx)
	if err != nil {
		return fmt.Errorf("delete bundle %s: %w", digest, err)
	}
	artsUsed, recipeUsed := false, info.Recipe == ""
	for _, o := range rest {
		artsUsed = artsUsed || o.Artifacts == info.Artifacts
		recipeUsed = recipeUsed || o.Recipe == info.Recipe
	}
	var errs []error
	if !artsUsed {
		errs = append(errs, removeAll(d.ArtifactsPath(info.Artifacts)))
	}
	if !recipeUsed {
		errs = append(errs, removeAll(d.RecipePath(info.Recipe)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete bundle %s: %w", digest, err)
	}
	return nil
}

// writeRecord writes info's record whole or not at all.
func (d *Dir) writeRecord(info *strata.BundleInfo) error {
	dir := filepath.Join(d.root, "bundles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".record-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), d.recordPath(info.Digest))
}

// unpack writes one entry at path: a file read-only with the entry's execute bits, or a
// link.
func unpack(path string, e strata.BundleEntry, body io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if e.Mode&fs.ModeSymlink != 0 {
		return os.Symlink(e.Link, path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body)
	if err == nil {
		// Set outright, not through the umask, so the execute bits the digest counts are
		// the entry's.
		err = f.Chmod((e.Mode.Perm() & 0o555) | 0o400)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// commitTree moves the unpacked tree tmp to dst, keeping a tree already there (it has the
// same digest).
func commitTree(tmp, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if _, serr := os.Lstat(dst); serr == nil {
			return nil // another process kept it meanwhile
		}
		return err
	}
	return nil
}

// removeAll removes a tree whose files and directories may be read-only.
func removeAll(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// WriteTar writes the bundle of the trees artifacts and recipe ("" for none) as its tar
// stream: the regular files and links of each, in byte order of their names. Anything else
// in a tree (a device, a socket) is an error.
func WriteTar(w io.Writer, artifacts, recipe string) error {
	return writeTar(w, artifacts, recipe, true)
}

// writeTar writes the stream, or with contents false the same number of bytes with zeros
// for the files' bytes (to measure it).
func writeTar(w io.Writer, artifacts, recipe string, contents bool) error {
	tw := tar.NewWriter(w)
	trees := []struct{ prefix, dir string }{{strata.BundleArtifacts, artifacts}}
	if recipe != "" {
		trees = append(trees, struct{ prefix, dir string }{strata.BundleRecipe, recipe})
	}
	for _, t := range trees {
		files, err := treeFiles(t.dir)
		if err != nil {
			return err
		}
		for _, rel := range files {
			if err := addFile(tw, t.prefix+rel, filepath.Join(t.dir, filepath.FromSlash(rel)), contents); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// treeFiles lists the slash-separated paths of the files and links below dir, sorted.
func treeFiles(dir string) ([]string, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(files)
	return files, err
}

func addFile(tw *tar.Writer, name, path string, contents bool) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Mode: int64(info.Mode().Perm())}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		if hdr.Linkname, err = os.Readlink(path); err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		return tw.WriteHeader(hdr)
	case !info.Mode().IsRegular():
		return fmt.Errorf("bundle: %s is neither a regular file nor a link", path)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
	if !contents {
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := io.CopyN(tw, zeros{}, info.Size())
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err == nil && n != info.Size() {
		err = fmt.Errorf("bundle: %s changed size while it was read", path)
	}
	return err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
