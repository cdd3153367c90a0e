package strata_test

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

type entry struct{ name, body, link string }

func stream(t *testing.T, es ...entry) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.link != "" {
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, e.link
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return &b
}

func TestScanBundleRefusesWhatIsNotABundle(t *testing.T) {
	cases := []struct {
		name    string
		entries []entry
		want    string // a fragment of the error; "" for a bundle
	}{
		{"artifacts then a recipe is a bundle", []entry{{name: "artifacts/a", body: "1"}, {name: "recipe/deploy.sh", body: "2"}}, ""},
		{"a link beside names that sort between it and its slash is a bundle", []entry{{name: "artifacts/a", link: "b"}, {name: "artifacts/a-b", body: "1"}, {name: "artifacts/a.c", body: "2"}, {name: "artifacts/b", body: "3"}}, ""},
		{"a recipe before the artifacts is out of order", []entry{{name: "recipe/deploy.sh", body: "2"}, {name: "artifacts/a", body: "1"}}, "byte order"},
		{"a file below a link, other names between them, is refused", []entry{{name: "artifacts/a", link: "/etc"}, {name: "artifacts/a-b", body: "1"}, {name: "artifacts/a/passwd", body: "x"}}, "below the link"},
		{"a name longer than a path can be is refused", []entry{{name: "artifacts/" + strings.Repeat("x", 5000), body: "1"}}, "at most 4096"},
		{"a name that is not clean is refused", []entry{{name: "artifacts/./a", body: "1"}}, "clean path"},
		{"a name beside the trees is refused", []entry{{name: "artifactsx", body: "1"}}, "clean path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := strata.ScanBundle(stream(t, c.entries...), nil)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want a bundle", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("got %v, want an invalid error saying %q", err, c.want)
			}
		})
	}
}

func TestABundleDigestNamesBothTrees(t *testing.T) {
	one, _, err := strata.ScanBundle(stream(t, entry{name: "artifacts/a", body: "1"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	arts, recipe, err := strata.ScanBundle(stream(t, entry{name: "artifacts/a", body: "1"}, entry{name: "recipe/r", body: "2"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if arts != one || recipe == "" {
		t.Errorf("the artifacts' digest changed with a recipe (%s, %s) or the recipe has none (%q)", one, arts, recipe)
	}
	if strata.BundleDigest(arts, "") == strata.BundleDigest(arts, recipe) {
		t.Errorf("a bundle's digest does not depend on its recipe")
	}
	if err := strata.CheckDigest("d", strata.BundleDigest(arts, recipe)); err != nil {
		t.Errorf("a bundle digest does not pass CheckDigest: %v", err)
	}
}
