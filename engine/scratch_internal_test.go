package engine

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRewriteLeavesExactlyTheNewContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.config.json")
	for _, content := range []string{`{"LONG":"a value that is long"}`, `{"S":1}`, "", `{"LONGER":"than anything before it, by far"}`} {
		if err := rewrite(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("the file holds %q (%v), want %q", got, err, content)
		}
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", info.Mode(), err)
	}
}

func TestRewriteRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "elsewhere"), filepath.Join(dir, "a.config.json")
	os.WriteFile(target, []byte("keep"), 0o600)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(link, []byte("secret")); err == nil {
		t.Fatal("rewrite wrote through a symlink")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("the symlink's target now holds %q", b)
	}
}
