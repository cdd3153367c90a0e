package examples_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/strata-dev/strata/examples"
)

func TestCopyShop(t *testing.T) {
	dir := t.TempDir()
	if err := examples.CopyShop(dir); err != nil {
		t.Fatal(err)
	}
	// Copying again over the first copy must work: the demo may reuse a directory.
	if err := examples.CopyShop(dir); err != nil {
		t.Fatalf("second copy: %v", err)
	}
	tests := []struct {
		name string
		file string
		mode fs.FileMode
	}{
		{"the project file is at the top", "strata.yaml", 0o644},
		{"the readme comes along", "README.md", 0o644},
		{"the gitignore keeps run state out of git", ".gitignore", 0o644},
		{"the app's source is there to build", "app/main.go", 0o644},
		{"the deploy script is executable", "deploy/app.sh", 0o755},
		{"the destroy script is executable", "deploy/stop.sh", 0o755},
		{"the migration script is executable", "deploy/migrate.sh", 0o755},
		{"the sourced helpers are executable like every script", "deploy/lib.sh", 0o755},
		{"the migrations are there to release", "migrations/0001_products.sql", 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := os.Stat(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tt.mode {
				t.Errorf("%s has mode %v, want %v", tt.file, got, tt.mode)
			}
		})
	}
	t.Run("the copy matches the estate in the repository", func(t *testing.T) {
		for _, f := range []string{"strata.yaml", "deploy/app.sh", "app/main.go"} {
			got, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("shop", f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from shop/%s", f, f)
			}
		}
	})
	t.Run("nothing that running in place leaves behind is embedded", func(t *testing.T) {
		for _, f := range []string{".strata", ".run"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				t.Errorf("%s was copied", f)
			}
		}
	})
}

func TestCopyShopIntoAFileFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := examples.CopyShop(file)
	if err == nil || !strings.Contains(err.Error(), "copy shop estate") {
		t.Errorf("CopyShop into a file: got %v, want an error saying what it was doing", err)
	}
}

func TestEstatesAreWellFormedYAML(t *testing.T) {
	shop, err := examples.Shop.ReadFile("shop/strata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"starter": examples.Starter, "shop": shop} {
		t.Run("the "+name+" estate parses and names its project", func(t *testing.T) {
			var doc struct {
				Project string `yaml:"project"`
			}
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Project == "" {
				t.Error("no project name")
			}
		})
	}
}

// TestShopAppBuildsOutsideAModule builds the app the way the estate's build step does, in a
// copy that no go.mod encloses.
func TestShopAppBuildsOutsideAModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	dir := t.TempDir()
	if err := examples.CopyShop(dir); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "artifacts", "shop")
	cmd := exec.Command("go", "build", "-o", out, "./app/main.go")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in %s: %v\n%s", dir, err, b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("no executable at %s: %v", out, err)
	}
}
