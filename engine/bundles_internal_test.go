package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/bundledir"
)

// TestATreeHasTheSameDigestOnDiskAndAsATarStream holds the two ways a bundle's digest is
// computed to one answer: digestDir over the files a build left (what a release records)
// and strata.ScanBundle over the tar stream a store keeps (what a fetch checks). Names whose
// order differs by path and by walk ("a.txt" sorts before "a/", but a walk visits "a" first),
// execute bits, links and empty files all count.
func TestATreeHasTheSameDigestOnDiskAndAsATarStream(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string // path -> content; "->target" makes a link
		modes map[string]os.FileMode
	}{
		{"a tree whose walk order is not its byte order", map[string]string{"a.txt": "1", "a/b": "2", "a-c": "3", "a/b.d/e": "4"}, nil},
		{"execute bits count", map[string]string{"bin/run": "#!/bin/sh\n", "data": "x"}, map[string]os.FileMode{"bin/run": 0o755, "data": 0o644}},
		{"links are kept as links", map[string]string{"bin/web": "web", "current": "->bin/web", "lib": "->bin"}, nil},
		{"an empty file counts", map[string]string{"empty": ""}, nil},
		{"names with spaces and unicode", map[string]string{"dir with space/fïlé": "ü", "z": "z"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range c.files {
				path := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if len(body) > 2 && body[:2] == "->" {
					if err := os.Symlink(body[2:], path); err != nil {
						t.Fatal(err)
					}
					continue
				}
				mode := c.modes[name]
				if mode == 0 {
					mode = 0o644
				}
				if err := os.WriteFile(path, []byte(body), mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(path, mode)
			}
			onDisk, err := digestDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := bundledir.WriteTar(&buf, dir, dir); err != nil {
				t.Fatal(err)
			}
			arts, recipe, err := strata.ScanBundle(&buf, nil)
			if err != nil {
				t.Fatal(err)
			}
			if arts != onDisk || recipe != onDisk {
				t.Errorf("on disk %s, as a stream artifacts %s and recipe %s", onDisk, arts, recipe)
			}
			// And unpacked again, the tree digests as it did.
			buf.Reset()
			bundledir.WriteTar(&buf, dir, "")
			d := bundledir.New(t.TempDir(), nil)
			info, err := d.PutBundle(t.Context(), strata.BundleDigest(onDisk, ""), &buf)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := digestDir(d.ArtifactsPath(info.Artifacts)); err != nil || again != onDisk {
				t.Errorf("unpacked, the tree digests as %s (%v), want %s", again, err, onDisk)
			}
			// Adopting the unpacked tree measures the stream it would give without reading it.
			if err := os.Remove(filepath.Join(d.Root(), "bundles", strings.TrimPrefix(info.Digest, "sha256:")+".json")); err != nil {
				t.Fatal(err)
			}
			adopted, err := d.Adopt(t.Context(), info.Artifacts, "")
			if err != nil || adopted.Size != info.Size || adopted.Digest != info.Digest {
				t.Errorf("adopted %+v (%v), want the size %d the stream had", adopted, err, info.Size)
			}
		})
	}
}
