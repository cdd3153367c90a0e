package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/layer"
)

// FuzzLoad feeds arbitrary bytes to Parse, starting from the test estates and the example
// estates, each also broken (a colon dropped, indentation turned to tabs), and runs the
// layer checks on what loads, as `strata validate` does: it must never panic, and every
// problem reported must carry a position in the file.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	more, _ := filepath.Glob("testdata/*/*/*.yaml")
	// The example estates, which use every kind of key, and their broken variants.
	examples := []string{"../examples/shop/strata.yaml", "../examples/starter/strata.yaml"}
	for _, path := range append(append(seeds, more...), examples...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add([]byte(strings.Replace(string(data), ":", "", 1)))
		f.Add([]byte(strings.ReplaceAll(string(data), "  ", "\t")))
	}
	f.Add([]byte(head + "x: &a [*a]\n"))
	f.Add([]byte("a: &a {b: *a}\n"))
	f.Add([]byte("project: x\nenvironments:\n  dev: &d {labels: {tier: dev}}\n  qa:\n    <<: *d\n"))
	f.Add([]byte("project: x\nservices:\n  a: {deploy: \"${\", depends_on: [b]}\n  b: {deploy: \"$${x} ${outputs.a.K}\", depends_on: [a]}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p, probs, err := config.Parse("strata.yaml", data, dir)
		if (err == nil) != (p != nil) {
			t.Fatalf("project %v with error %v", p != nil, err)
		}
		if p != nil {
			// What `strata validate` runs next: references, cycles and schemas across layers.
			probs = append(probs, layer.Check(p)...)
		}
		for _, pr := range probs {
			if pr.Pos.File == "" || pr.Pos.Line < 1 || pr.Pos.Col < 1 {
				t.Fatalf("a problem without a position: %q", pr.Error())
			}
		}
	})
}
