package storetest

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/strata-dev/strata"
)

// file is one entry of a test bundle.
type file struct {
	name string
	mode int64
	body string
	link string
}

// bundleTar returns the tar stream of files, in the order given.
func bundleTar(t *testing.T, files ...file) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.link != "" {
			hdr.Typeflag, hdr.Size, hdr.Linkname = tar.TypeSymlink, 0, f.link
		}
		must(t, tw.WriteHeader(hdr))
		_, err := tw.Write([]byte(f.body))
		must(t, err)
	}
	must(t, tw.Close())
	return b.Bytes()
}

// digestOf returns the digest of a bundle's tar stream.
func digestOf(t *testing.T, stream []byte) string {
	t.Helper()
	a, r, err := strata.ScanBundle(bytes.NewReader(stream), nil)
	must(t, err)
	return strata.BundleDigest(a, r)
}

// unread fails the test when it is read: a store that keeps a digest already must not read
// the stream again.
type unread struct{ t *testing.T }

func (u unread) Read([]byte) (int, error) {
	u.t.Error("the stream of a bundle kept already was read")
	return 0, io.EOF
}

// generated is a large bundle made as it is read: one artifact of size pseudo-random bytes.
func generated(size int64, seed uint64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: "artifacts/big.bin", Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
		if err == nil {
			_, err = io.CopyN(tw, rand.NewChaCha8([32]byte{byte(seed)}), size)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

func testBundles(t *testing.T, open func(t *testing.T) strata.Store) {
	web := bundleTar(t,
		file{name: "artifacts/bin/web", mode: 0o755, body: "#!/bin/sh\necho web\n"},
		file{name: "artifacts/current", link: "bin/web"},
		file{name: "artifacts/static/index.html", mode: 0o644, body: "<h1>hi</h1>\n"},
		file{name: "recipe/deploy/web.sh", mode: 0o755, body: "#!/bin/sh\nexit 0\n"},
	)
	webDigest := digestOf(t, web)

	t.Run("a bundle put is found, listed and read back as the same bundle", func(t *testing.T) {
		s := open(t)
		info, err := s.PutBundle(ctx(t), webDigest, bytes.NewReader(web))
		must(t, err)
		if info.Digest != webDigest || info.Artifacts == "" || info.Recipe == "" || info.Size != int64(len(web)) || info.CreatedAt.IsZero() {
			t.Errorf("put returned %+v, want digest %s, both trees' digests, size %d and a time", info, webDigest, len(web))
		}
		got, err := s.Bundle(ctx(t), webDigest)
		must(t, err)
		if *got != *info {
			t.Errorf("Bundle = %+v, want what put returned, %+v", got, info)
		}
		list, err := s.Bundles(ctx(t))
		must(t, err)
		if len(list) != 1 || *list[0] != *info {
			t.Errorf("Bundles = %+v, want the one bundle", list)
		}
		rc, err := s.OpenBundle(ctx(t), webDigest)
		must(t, err)
		defer rc.Close()
		a, r, err := strata.ScanBundle(rc, nil)
		must(t, err)
		if a != info.Artifacts || r != info.Recipe {
			t.Errorf("the bundle read back has trees %s and %s, want %s and %s", a, r, info.Artifacts, info.Recipe)
		}
	})

	t.Run("a digest kept already is kept once and its stream is not read", func(t *testing.T) {
		s := open(t)
		first, err := s.PutBundle(ctx(t), webDigest, bytes.NewReader(web))
		must(t, err)
		again, err := s.PutBundle(ctx(t), webDigest, unread{t})
		must(t, err)
		if *again != *first {
			t.Errorf("the second put returned %+v, want the first's %+v", again, first)
		}
		list, err := s.Bundles(ctx(t))
		must(t, err)
		if len(list) != 1 {
			t.Errorf("Bundles lists %d bundles, want 1", len(list))
		}
	})

	other := bundleTar(t, file{name: "artifacts/bin/web", mode: 0o755, body: "#!/bin/sh\necho evil\n"})
	refused := []struct {
		name   string
		digest string
		stream []byte
		code   string
		isDig  bool
	}{
		{"content with another digest is refused, naming both", webDigest, other, strata.EINVALID, true},
		{"a digest that is not sha256 is refused", "md5:abc", web, strata.EINVALID, false},
		{"a stream that is not tar is refused", webDigest, []byte("not a tar stream at all, not even close"), strata.EINVALID, false},
		{"entries out of byte order are refused", webDigest, bundleTar(t,
			file{name: "artifacts/b", mode: 0o644, body: "b"}, file{name: "artifacts/a", mode: 0o644, body: "a"}), strata.EINVALID, false},
		{"an entry that leaves its tree is refused", webDigest, bundleTar(t, file{name: "artifacts/../../etc/passwd", mode: 0o644, body: "x"}), strata.EINVALID, false},
		{"a file below a link is refused", webDigest, bundleTar(t,
			file{name: "artifacts/d", link: "/etc"}, file{name: "artifacts/d/passwd", mode: 0o644, body: "x"}), strata.EINVALID, false},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			_, err := s.PutBundle(ctx(t), c.digest, bytes.NewReader(c.stream))
			wantCode(t, err, c.code)
			if c.isDig {
				if !errors.Is(err, strata.ErrBundleDigest) {
					t.Errorf("the error does not wrap ErrBundleDigest: %v", err)
				}
				if got := digestOf(t, c.stream); !bytes.Contains([]byte(err.Error()), []byte(got)) || !bytes.Contains([]byte(err.Error()), []byte(c.digest)) {
					t.Errorf("the error should name both digests (%s, %s): %v", got, c.digest, err)
				}
			}
			list, err := s.Bundles(ctx(t))
			must(t, err)
			if len(list) != 0 {
				t.Errorf("a refused bundle was kept: %+v", list)
			}
		})
	}

	t.Run("a large bundle goes in and comes out as a stream", func(t *testing.T) {
		s := open(t)
		const size = 5<<20 + 12345 // several chunks and a part
		a, r, err := strata.ScanBundle(generated(size, 7), nil)
		must(t, err)
		digest := strata.BundleDigest(a, r)
		info, err := s.PutBundle(ctx(t), digest, generated(size, 7))
		must(t, err)
		if info.Size < size {
			t.Errorf("size = %d, want at least %d", info.Size, size)
		}
		rc, err := s.OpenBundle(ctx(t), digest)
		must(t, err)
		defer rc.Close()
		// The stream read back is the same bundle (a store may write the tar headers
		// afresh): its content has the digest.
		a, r, err = strata.ScanBundle(rc, nil)
		must(t, err)
		if got := strata.BundleDigest(a, r); got != digest {
			t.Errorf("the bundle read back has digest %s, want %s", got, digest)
		}
	})

	t.Run("a deleted bundle is gone and one that shares its artifacts stays whole", func(t *testing.T) {
		s := open(t)
		same := bundleTar(t,
			file{name: "artifacts/bin/web", mode: 0o755, body: "#!/bin/sh\necho web\n"},
			file{name: "artifacts/current", link: "bin/web"},
			file{name: "artifacts/static/index.html", mode: 0o644, body: "<h1>hi</h1>\n"},
			file{name: "recipe/deploy/web.sh", mode: 0o755, body: "#!/bin/sh\nexit 1\n"},
		)
		sameDigest := digestOf(t, same)
		_, err := s.PutBundle(ctx(t), webDigest, bytes.NewReader(web))
		must(t, err)
		_, err = s.PutBundle(ctx(t), sameDigest, bytes.NewReader(same))
		must(t, err)
		must(t, s.DeleteBundle(ctx(t), webDigest))
		_, err = s.Bundle(ctx(t), webDigest)
		wantCode(t, err, strata.ENOTFOUND)
		_, err = s.OpenBundle(ctx(t), webDigest)
		wantCode(t, err, strata.ENOTFOUND)
		wantCode(t, s.DeleteBundle(ctx(t), webDigest), strata.ENOTFOUND)
		rc, err := s.OpenBundle(ctx(t), sameDigest)
		must(t, err)
		defer rc.Close()
		a, r, err := strata.ScanBundle(rc, nil)
		must(t, err)
		if got := strata.BundleDigest(a, r); got != sameDigest {
			t.Errorf("the remaining bundle reads back as %s, want %s", got, sameDigest)
		}
		list, err := s.Bundles(ctx(t))
		must(t, err)
		if len(list) != 1 || list[0].Digest != sameDigest {
			t.Errorf("Bundles = %+v, want only %s", list, sameDigest)
		}
	})
}
