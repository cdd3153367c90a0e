package strata

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// A release's bundle is its artifacts and a copy of the files its steps use (its recipe),
// named by one digest. It travels, and is kept, as a tar stream of two trees, artifacts/
// and recipe/, whose entries come in byte order of their names: the order in which the
// digest is computed, so that any reader (a store taking an upload, a machine fetching the
// bundle) checks the digest as the bytes pass, holding one entry's header at a time.

// BundleInfo describes a bundle a BundleStore keeps.
type BundleInfo struct {
	// Digest is the bundle's digest (BundleDigest of the two below).
	Digest string `json:"digest"`
	// Artifacts and Recipe are the digests of its two trees; Recipe is "" for a bundle
	// without step files.
	Artifacts string `json:"artifacts"`
	Recipe    string `json:"recipe,omitempty"`
	// Size is the length of its tar stream in bytes.
	Size      int64     `json:"bytes"`
	CreatedAt time.Time `json:"created_at"`
}

// BundleStore keeps release bundles by digest, so that any machine on the store (another
// checkout, another server, an agent) can deploy any release. A bundle's content goes in and
// comes out as its tar stream, streamed: no method holds a whole bundle in memory. The
// SQLite store keeps bundles as files beside its database; the PostgreSQL store keeps them
// in the database in chunks.
type BundleStore interface {
	// PutBundle reads a bundle's tar stream from r and keeps it under digest, checking as it
	// reads that the content has that digest (ScanBundle). A digest kept already is not
	// kept twice: PutBundle returns its info without reading r. EINVALID, with nothing
	// kept, when digest is not a sha256 digest, the stream is not a bundle's, or its
	// content has another digest (the error then wraps ErrBundleDigest and names both).
	PutBundle(ctx context.Context, digest string, r io.Reader) (*BundleInfo, error)
	// Bundle returns what the store knows of the bundle digest names; ENOTFOUND when it
	// keeps none.
	Bundle(ctx context.Context, digest string) (*BundleInfo, error)
	// OpenBundle returns the bundle's tar stream, read as it is consumed; the caller closes
	// it. ENOTFOUND when the store keeps no such bundle. The stream is not checked against
	// the digest here: a reader checks it (ScanBundle) before it uses anything.
	OpenBundle(ctx context.Context, digest string) (io.ReadCloser, error)
	// Bundles lists every bundle kept, by digest.
	Bundles(ctx context.Context) ([]*BundleInfo, error)
	// DeleteBundle removes a bundle. ENOTFOUND when the store keeps no such bundle. (Who
	// removes bundles audits it first: `strata gc` appends one event for its run.)
	DeleteBundle(ctx context.Context, digest string) error
}

// ErrBundleDigest is wrapped by the error of a bundle whose content does not have the
// digest it was given under.
var ErrBundleDigest = errors.New("the bundle's content does not match its digest")

// BundleDigest is the one digest that names a release's whole recipe from the digests of
// its artifacts and of its step files ("" when it has none).
func BundleDigest(artifacts, recipe string) string {
	h := sha256.New()
	fmt.Fprintf(h, "strata bundle v1\nartifacts %s\nrecipe %s\n", artifacts, recipe)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// CheckDigest returns EINVALID unless d is "sha256:" and 64 lower-case hex digits.
func CheckDigest(what, d string) error {
	hexPart, ok := strings.CutPrefix(d, "sha256:")
	if ok && len(hexPart) == 64 && strings.Trim(hexPart, "0123456789abcdef") == "" {
		return nil
	}
	return Errorf(EINVALID, "%s %q: want sha256: and 64 lower-case hex digits", what, cut(d, 80))
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// TreeHasher computes a tree's digest from its files given in byte order of their paths:
// each file's slash-separated path, its type and execute bits, and its bytes (a link's
// target). It is the digest a release records for its artifacts and its recipe. A file is
// Begin, its bytes written, then End.
type TreeHasher struct {
	h    hash.Hash
	last string
	n    int
	link bool
}

// NewTreeHasher returns a hasher of an empty tree.
func NewTreeHasher() *TreeHasher { return &TreeHasher{h: sha256.New()} }

// Begin starts a file: mode is its fs.FileMode (only the type and execute bits count).
// Paths must come in increasing byte order; EINVALID otherwise.
func (t *TreeHasher) Begin(name string, mode fs.FileMode) error {
	if t.n > 0 && name <= t.last {
		return Errorf(EINVALID, "bundle entry %q comes after %q: entries must be in byte order of their names, each once", cut(name, 200), cut(t.last, 200))
	}
	t.last, t.n, t.link = name, t.n+1, mode&fs.ModeSymlink != 0
	fmt.Fprintf(t.h, "%s\x00%o\x00", name, mode&(fs.ModeType|0o111))
	return nil
}

// Write adds bytes of the file begun last (a link's target).
func (t *TreeHasher) Write(p []byte) (int, error) { return t.h.Write(p) }

// End ends the file begun last.
func (t *TreeHasher) End() {
	if !t.link {
		t.h.Write([]byte{0})
	}
}

// Files is how many files were added.
func (t *TreeHasher) Files() int { return t.n }

// Digest returns the tree's digest.
func (t *TreeHasher) Digest() string { return "sha256:" + hex.EncodeToString(t.h.Sum(nil)) }

// maxBundleName is the longest name of a bundle's entry, in bytes (Linux's PATH_MAX).
const maxBundleName = 4096

// Bundle tree prefixes: the two trees of a bundle's tar stream.
const (
	BundleArtifacts = "artifacts/"
	BundleRecipe    = "recipe/"
)

// BundleEntry is one file of a bundle's tar stream, as ScanBundle gives it to its visitor.
type BundleEntry struct {
	// Tree is BundleArtifacts or BundleRecipe; Path is the file's path within it.
	Tree, Path string
	// Mode is its permission bits, with fs.ModeSymlink for a link.
	Mode fs.FileMode
	// Link is a link's target.
	Link string
}

// ScanBundle reads a bundle's tar stream from r, calling visit (when not nil) with each
// entry and a reader of its bytes, and returns the digests of its two trees (recipe "" when
// the stream has no recipe/ entry) once the stream has ended. The digest is computed from
// what passes, whether visit reads it or not. A stream that is not a bundle's (not tar,
// cut short, an entry that is not a regular file or a link, a name that is not clean or
// leaves its tree, names out of byte order, a file below a link) is EINVALID saying which
// entry. Bytes after the tar's end are read and ignored, so a caller teeing r sees it all.
func ScanBundle(r io.Reader, visit func(e BundleEntry, body io.Reader) error) (artifacts, recipe string, err error) {
	trees := map[string]*TreeHasher{BundleArtifacts: NewTreeHasher(), BundleRecipe: NewTreeHasher()}
	// The links that may still be ancestors of an entry to come. Names come in byte order,
	// so those are the links that are a prefix of the last name: at most one a byte of it,
	// however many links the bundle holds.
	var links []string
	last := ""
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", "", &Error{Code: EINVALID, Message: "the bundle is not a whole tar stream", Err: err}
		}
		name := hdr.Name
		if len(name) > maxBundleName {
			return "", "", Errorf(EINVALID, "the bundle holds a name of %d bytes (%q): at most %d", len(name), cut(name, 80), maxBundleName)
		}
		if last != "" && name <= last {
			return "", "", Errorf(EINVALID, "bundle entry %q comes after %q: entries must be in byte order of their names, each once", cut(name, 200), cut(last, 200))
		}
		last = name
		var tree string
		for _, t := range []string{BundleArtifacts, BundleRecipe} {
			if strings.HasPrefix(name, t) {
				tree = t
			}
		}
		rel := strings.TrimPrefix(name, tree)
		if tree == "" || rel == "" || path.Clean(rel) != rel || path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			return "", "", Errorf(EINVALID, "the bundle holds %q: every entry is a clean path under artifacts/ or recipe/", cut(name, 200))
		}
		kept := links[:0]
		for _, l := range links {
			if strings.HasPrefix(name, l+"/") {
				return "", "", Errorf(EINVALID, "the bundle holds %q below the link %q: a bundle's links lead nowhere inside it", cut(name, 200), cut(l, 200))
			}
			if strings.HasPrefix(name, l) { // then name[len(l)] < '/': later names may be below l
				kept = append(kept, l)
			}
		}
		links = kept
		e := BundleEntry{Tree: tree, Path: rel, Mode: fs.FileMode(hdr.Mode) & fs.ModePerm}
		var body io.Reader = tr
		switch hdr.Typeflag {
		case tar.TypeReg:
		case tar.TypeSymlink:
			e.Mode |= fs.ModeSymlink | 0o111
			e.Link = hdr.Linkname
			body = strings.NewReader(hdr.Linkname)
			links = append(links, name)
		default:
			return "", "", Errorf(EINVALID, "the bundle holds %q, which is neither a regular file nor a link", cut(name, 200))
		}
		th := trees[tree]
		if err := th.Begin(rel, e.Mode); err != nil {
			return "", "", err
		}
		tee := io.TeeReader(body, th)
		if visit != nil {
			err = visit(e, tee)
		}
		if err == nil {
			_, err = io.Copy(io.Discard, tee)
		}
		th.End()
		if err != nil {
			var se *Error
			switch {
			case errors.As(err, &se):
				return "", "", err
			case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader):
				return "", "", &Error{Code: EINVALID, Message: fmt.Sprintf("the bundle's %q is cut short", cut(name, 200)), Err: err}
			}
			return "", "", fmt.Errorf("bundle entry %q: %w", cut(name, 200), err)
		}
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return "", "", &Error{Code: EINVALID, Message: "the bundle is not a whole tar stream", Err: err}
	}
	artifacts = trees[BundleArtifacts].Digest()
	if trees[BundleRecipe].Files() > 0 {
		recipe = trees[BundleRecipe].Digest()
	}
	return artifacts, recipe, nil
}

// MismatchedBundle is the EINVALID error of a bundle whose content has digest got, not the
// want it was given under; it wraps ErrBundleDigest.
func MismatchedBundle(want, got string) error {
	return Errorf(EINVALID, "%w: it has digest %s, not %s", ErrBundleDigest, got, want)
}
