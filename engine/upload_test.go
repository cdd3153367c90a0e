package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/sqlite"
)

type tarEntry struct {
	name, body string
	kind       byte
}

func tarOf(t *testing.T, entries ...tarEntry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		kind := e.kind
		if kind == 0 {
			kind = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: kind}
		if kind == tar.TypeSymlink {
			hdr.Size, hdr.Linkname = 0, "/etc/passwd"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if kind == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return &buf
}

// bundleOf makes a real bundle of the artifact files and returns its digest and stream.
func bundleOf(t *testing.T, files map[string]string) (string, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	b, err := engine.NewBundle(dir, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return b.Digest, &buf
}

func TestAnUploadIsKeptOnlyWhenItIsWhatItClaims(t *testing.T) {
	good, goodTar := bundleOf(t, map[string]string{"app": "bytes"})
	zero := "sha256:" + strings.Repeat("0", 64)
	cases := []struct {
		name   string
		digest string
		body   *bytes.Buffer
		limit  int64
		want   string // a fragment of the error, "" for success
	}{
		{"a bundle that matches its digest is kept", good, bytes.NewBuffer(goodTar.Bytes()), 0, ""},
		{"content that gives another digest is refused", zero, tarOf(t, tarEntry{name: "artifacts/app", body: "bytes"}), 0, "does not match its digest: it has digest"},
		{"a path that climbs out is refused", zero, tarOf(t, tarEntry{name: "artifacts/../../evil", body: "x"}), 0, "a clean path under artifacts/ or recipe/"},
		{"an absolute path is refused", zero, tarOf(t, tarEntry{name: "/etc/evil", body: "x"}), 0, "a clean path under artifacts/ or recipe/"},
		{"a file below a link is refused", zero, tarOf(t, tarEntry{name: "artifacts/etc", kind: tar.TypeSymlink}, tarEntry{name: "artifacts/etc/passwd", body: "x"}), 0, "below the link"},
		{"a device is refused", zero, tarOf(t, tarEntry{name: "artifacts/null", kind: tar.TypeChar}), 0, "neither a regular file nor a link"},
		{"a file outside the two trees is refused", zero, tarOf(t, tarEntry{name: "other/x", body: "x"}), 0, "a clean path under artifacts/ or recipe/"},
		{"the same file twice is refused", zero, tarOf(t, tarEntry{name: "artifacts/a", body: "1"}, tarEntry{name: "artifacts/a", body: "2"}), 0, "each once"},
		{"a stream over the cap is refused naming it", zero, tarOf(t, tarEntry{name: "artifacts/big", body: strings.Repeat("x", 4096)}), 1024, "larger than the server's cap"},
		{"what is not tar is refused", zero, bytes.NewBufferString(strings.Repeat("not a tar stream ", 64)), 0, "not a whole tar stream"},
		{"a digest that is not one is refused", "sha256:../../x", tarOf(t), 0, "want sha256: and 64 lower-case hex digits"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			state := t.TempDir()
			s, err := sqlite.Open(filepath.Join(state, "state.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			e := &engine.Engine{StateDir: state, Store: s}
			err = e.StoreUpload(t.Context(), c.body, c.digest, c.limit)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want the bundle kept", err)
				}
				if _, err := os.Stat(filepath.Join(state, "bundles", strings.TrimPrefix(c.digest, "sha256:")+".json")); err != nil {
					t.Errorf("the bundle's record is missing: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
			if got := strata.ErrorCode(err); got != strata.EINVALID {
				t.Errorf("code %q, want %q", got, strata.EINVALID)
			}
			for _, dir := range []string{"artifacts", "recipes"} {
				if es, _ := os.ReadDir(filepath.Join(state, dir)); len(es) != 0 {
					t.Errorf("a refused upload left %d entries in %s", len(es), dir)
				}
			}
			if es, _ := os.ReadDir(filepath.Join(state, "bundles")); len(es) != 0 {
				t.Errorf("a refused upload left %d entries in bundles", len(es))
			}
		})
	}
}

func TestAnUploadedBundleWithoutScriptsBecomesARelease(t *testing.T) {
	e := newWorld(t, "project: up\nenvironments:\n  dev: {}\nservices:\n  web:\n    deploy: \"true\"\n").engine()
	digest, body := bundleOf(t, map[string]string{"app": "bytes"})
	if err := e.StoreUpload(t.Context(), body, digest, 0); err != nil {
		t.Fatal(err)
	}
	res, err := e.ReleaseFrom(t.Context(), engine.ReleaseSpec{Service: "web", Version: "1", Bundle: digest})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Release; got.Bundle != digest || got.Recipe != "" || !strings.HasPrefix(got.Digest, "sha256:") {
		t.Errorf("release %+v, want bundle %s, no recipe and an artifact digest", got, digest)
	}
}

func TestAnUploadOfABundleKeptAlreadyIsReadToItsEnd(t *testing.T) {
	e := newWorld(t, "project: up\nenvironments:\n  dev: {}\nservices:\n  web:\n    deploy: \"true\"\n").engine()
	digest, body := bundleOf(t, map[string]string{"app": "bytes"})
	again := bytes.NewBuffer(bytes.Clone(body.Bytes()))
	if err := e.StoreUpload(t.Context(), body, digest, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.StoreUpload(t.Context(), again, digest, 0); err != nil {
		t.Fatalf("the second upload: %v", err)
	}
	if again.Len() != 0 {
		t.Errorf("%d bytes of the second upload were left unread: its client would see a broken connection", again.Len())
	}
	list, err := e.Store.Bundles(t.Context())
	if err != nil || len(list) != 1 {
		t.Errorf("the store lists %d bundles (%v), want the one", len(list), err)
	}
}

func TestAnAgentFetchesABundleOnceAndOnlyWhatItsDigestNames(t *testing.T) {
	good, goodTar := bundleOf(t, map[string]string{"app": "bytes"})
	cases := []struct {
		name   string
		stream func() *bytes.Buffer
		want   string // a fragment of the error, "" for success
	}{
		{"the bundle its digest names is kept", func() *bytes.Buffer { return bytes.NewBuffer(goodTar.Bytes()) }, ""},
		{"another bundle under its digest is refused before anything is kept", func() *bytes.Buffer {
			return tarOf(t, tarEntry{name: "artifacts/app", body: "evil bytes"})
		}, "does not match its digest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &engine.Engine{StateDir: t.TempDir()}
			fetches := 0
			fetch := func(context.Context) (io.ReadCloser, error) {
				fetches++
				return io.NopCloser(c.stream()), nil
			}
			err := e.FetchBundle(t.Context(), good, 0, fetch)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) || strata.ErrorCode(err) != strata.EINVALID {
					t.Fatalf("got %v, want EINVALID saying %q", err, c.want)
				}
				if es, _ := os.ReadDir(filepath.Join(e.StateDir, "artifacts")); len(es) != 0 {
					t.Errorf("a refused bundle left %d artifacts", len(es))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := e.FetchBundle(t.Context(), good, 0, fetch); err != nil || fetches != 1 {
				t.Errorf("a second fetch of a kept bundle: %v after %d fetches; want it served from the cache", err, fetches)
			}
		})
	}
}
