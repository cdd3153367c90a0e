package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata/config"
)

func withBundle(entries string) string {
	return strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    bundle: "+entries+"\n", 1)
}

func TestABundleEntryMustNameFilesInsideTheProject(t *testing.T) {
	cases := []struct {
		name, entries, at, want string
	}{
		{"a glob that matches nothing names the entry", `["scripts/*.sh"]`, "strata.yaml:8:14", `bundle entry "scripts/*.sh" matches no file`},
		{"a path that leaves the project is refused", `["../outside.sh"]`, "strata.yaml:8:14", `bundle entry "../outside.sh" leaves the project directory`},
		{"an absolute path is refused", `[/etc/passwd]`, "strata.yaml:8:14", `bundle entry "/etc/passwd" is an absolute path`},
		{"a bad glob says so", `["deploy/[a"]`, "strata.yaml:8:14", "is not a valid glob"},
		{"an empty entry is refused", `[""]`, "strata.yaml:8:14", "bundle entry \"\" is empty"},
		{"a mapping is not an entry", `[{a: b}]`, "strata.yaml:8:14", "a bundle entry should be a single value"},
		{"a hostile entry is quoted, never run", `["$(touch pwned)*"]`, "strata.yaml:8:14", `bundle entry "$(touch pwned)*" matches no file`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.WriteFile(filepath.Join(dir, "deploy.sh"), []byte("true\n"), 0o755))
			_, probs, err := config.Parse("strata.yaml", []byte(withBundle(c.entries)), dir)
			if err == nil {
				t.Fatalf("got no error; want %s: %s", c.at, c.want)
			}
			for _, pr := range probs {
				if pr.Pos.String() == c.at && strings.Contains(pr.Message, c.want) {
					return
				}
			}
			t.Errorf("no problem at %s containing %q; got:\n%s", c.at, c.want, err)
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Errorf("a bundle entry ran as a command")
			}
		})
	}
}

func TestABundleThatNamesFilesIsKeptInOrder(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "deploy"), 0o755))
	for _, f := range []string{"deploy.sh", "deploy/lib.sh", "deploy/web.sh"} {
		must(t, os.WriteFile(filepath.Join(dir, f), []byte("true\n"), 0o755))
	}
	p, _, err := config.Parse("strata.yaml", []byte(withBundle(`[deploy.sh, "deploy/*.sh"]`)), dir)
	must(t, err)
	got, want := p.Service("api").Bundle, []string{"deploy.sh", "deploy/*.sh"}
	if !slices.Equal(got, want) {
		t.Errorf("bundle = %q, want %q", got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
