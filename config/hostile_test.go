package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
)

// project writes files (name -> content) into a fresh project directory, inside a parent
// directory that holds a file "outside.yaml" and a password-like file "passwd", which no
// include may reach. It returns the project directory.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	parent := t.TempDir()
	dir := filepath.Join(parent, "project")
	outside := map[string]string{
		"outside.yaml": "environments: {stolen: {}}\n",
		"passwd":       "root:x:0:0:root:/root:/bin/bash\n",
	}
	for name, content := range outside {
		if err := os.WriteFile(filepath.Join(parent, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHostileFilesAreRefusedWithoutEchoingThem(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		setup func(t *testing.T, dir string)
		want  string   // a fragment of the error
		never []string // what the error must not hold
	}{
		{"an include of an absolute glob is refused before it is expanded",
			map[string]string{"strata.yaml": head + "include: \"/**/*\"\n"}, nil,
			`strata.yaml:13:10: include "/**/*" is an absolute path; an include names files inside the project directory`, nil},
		{"an include that climbs out of the project is refused",
			map[string]string{"strata.yaml": head + "include: ../../../../etc/passwd\n"}, nil,
			`strata.yaml:13:10: include "../../../../etc/passwd" leaves the project directory`, []string{"root:"}},
		{"an include of a sibling of the project is refused",
			map[string]string{"strata.yaml": head + "include: ../outside.yaml\n"}, nil,
			`include "../outside.yaml" leaves the project directory`, []string{"stolen"}},
		{"a glob that climbs out of the project is refused",
			map[string]string{"strata.yaml": head + "include: \"envs/../../*\"\n"}, nil,
			`include "envs/../../*" leaves the project directory`, []string{"root:", "stolen"}},
		{"a link inside the project that leads out of it is refused",
			map[string]string{"strata.yaml": head + "include: [envs/prod.yaml]\n"},
			func(t *testing.T, dir string) {
				link(t, filepath.Join(dir, "..", "passwd"), filepath.Join(dir, "envs", "prod.yaml"))
			},
			"envs/prod.yaml is a link that leads out of the project directory", []string{"root:"}},
		{"a glob over a linked directory that leads out of the project is refused",
			map[string]string{"strata.yaml": head + "include: [\"up/*.yaml\"]\n"},
			func(t *testing.T, dir string) { link(t, filepath.Join(dir, ".."), filepath.Join(dir, "up")) },
			"up/outside.yaml is a link that leads out of the project directory", []string{"stolen"}},
		{"a file that is one line of text is not echoed",
			map[string]string{"strata.yaml": head + "include: [passwd]\n", "passwd": "root:x:0:0:root:/root:/bin/bash\n"}, nil,
			"passwd is not a Strata configuration file: its top level should be keys such as include, defaults", []string{"root:"}},
		{"a file that is a mapping of other keys is not echoed",
			map[string]string{"strata.yaml": head + "include: [creds.yaml]\n", "creds.yaml": "aws_secret_key: hunter2\nregion: x\n"}, nil,
			"creds.yaml is not a Strata configuration file: none of its 2 top-level keys is one of", []string{"hunter2", "aws_secret_key"}},
		{"a file that is a list is not echoed",
			map[string]string{"strata.yaml": head + "include: [list.yaml]\n", "list.yaml": "- sk_live_123\n"}, nil,
			"list.yaml is not a Strata configuration file: its top level should be keys such as include, defaults, environments, groups, services, pipeline, notify, flags, found a list", []string{"sk_live"}},
		{"strata.yaml itself as one line of text is not echoed",
			map[string]string{"strata.yaml": "root:x:0:0:root:/root:/bin/bash\n"}, nil,
			"strata.yaml is not a Strata configuration file", []string{"root:"}},
		{"an included named pipe is refused without waiting for a writer",
			map[string]string{"strata.yaml": head + "include: [fifo.yaml]\n"},
			func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o644); err != nil {
					t.Skip("no named pipes here:", err)
				}
			},
			"fifo.yaml: it is not a regular file", nil},
		{"a glob that matches more than a thousand files is refused",
			map[string]string{"strata.yaml": head + "include: \"many/*\"\n"},
			func(t *testing.T, dir string) {
				for i := range 1001 {
					write(t, filepath.Join(dir, "many", fmt.Sprintf("%04d.yaml", i)), "")
				}
			},
			`include "many/*" matches 1001 files, more than the 1000 one include may name`, nil},
		{"an included file over 8 MiB is refused before it is parsed",
			map[string]string{"strata.yaml": head + "include: [big.yaml]\n"},
			func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "big.yaml"), "defaults: {config: {A: \""+strings.Repeat("a", config.MaxFileSize)+"\"}}\n")
			},
			"big.yaml: it is 8.0 MiB, more than the 8 MiB a configuration file may have", []string{"aaaa"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := project(t, c.files)
			if c.setup != nil {
				c.setup(t, dir)
			}
			_, _, err := config.Load(dir)
			if strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("err = %.500v, want an invalid error", err)
			}
			got := err.Error()
			if !strings.Contains(got, c.want) {
				t.Errorf("err = %.1000s\nwant it to contain %s", got, c.want)
			}
			for _, n := range c.never {
				if strings.Contains(got, n) {
					t.Errorf("the error echoes %q, which it must not:\n%.1000s", n, got)
				}
			}
		})
	}
}

func TestAnIncludeInsideTheProjectStillLoads(t *testing.T) {
	dir := project(t, map[string]string{
		"strata.yaml":     head + "include: [\"envs/*.yaml\", ./more/../svc.yaml]\n",
		"envs/prod.yaml":  "environments:\n  prod: {labels: {tier: prod}}\n",
		"svc.yaml":        "services:\n  web: {deploy: ./web.sh}\n",
		"envs/notes.yaml": "",
	})
	link(t, filepath.Join(dir, "envs", "prod.yaml"), filepath.Join(dir, "prod-link.yaml"))
	p, _, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Environment("prod") == nil || p.Service("web") == nil {
		t.Errorf("environments %v, services %v; want prod and web from the included files", p.EnvironmentNames(), p.ServiceNames())
	}
}

func TestAStrataYAMLOverTheSizeCapIsRefusedAtOnce(t *testing.T) {
	dir := project(t, nil)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "strata.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: the size is what counts, and nothing is read.
	if err := f.Truncate(config.MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, _, err = config.Load(dir)
	want := "strata.yaml: it is 8.0 MiB, more than the 8 MiB a configuration file may have"
	if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("err = %v\nwant an invalid error containing %s", err, want)
	}
	_, _, err = config.Parse("strata.yaml", make([]byte, config.MaxFileSize+1), dir)
	if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(fmt.Sprint(err), "more than the 8 MiB") {
		t.Errorf("Parse of 8 MiB + 1 byte: err = %v, want an invalid error", err)
	}
}

func TestNamesGetTheNameRuleWhateverTheirLength(t *testing.T) {
	long := strings.Repeat("a", 10000)
	cases := []struct{ name, yaml, want string }{
		{"a 10 kB environment name", "project: shop\nenvironments:\n  " + long + ": {}\n",
			`strata.yaml:3:3: environment name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"... (10000 bytes) is not valid; names are lower-case letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63 characters (e.g. prod-eu)`},
		{"a 10 kB quoted environment name", "project: shop\nenvironments:\n  # many\n\n  dev: {}\n  \"" + long + "\": {}\n",
			`strata.yaml:6:3: environment name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"... (10000 bytes) is not valid`},
		{"a 10 kB service name", "project: shop\nservices:\n  " + long + ":\n    deploy: x\n", `strata.yaml:3:3: service name "aaaa`},
		{"a 10 kB key elsewhere", "project: shop\n" + long + ": 1\n", `strata.yaml:2:1: the key "aaaa`},
		{"a 64-character environment name", "project: shop\nenvironments:\n  " + strings.Repeat("b", 64) + ": {}\n",
			"strata.yaml:3:3: environment name \"" + strings.Repeat("b", 60) + "\"... (64 bytes) is not valid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := config.Parse("strata.yaml", []byte(c.yaml), t.TempDir())
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error()
			if !strings.Contains(got, c.want) || strings.Contains(got, "YAML syntax error") {
				t.Errorf("err = %.600s\nwant it to contain %s, and no YAML syntax error", got, c.want)
			}
			if len(got) > 2000 {
				t.Errorf("the error is %d bytes long: it must not print the whole name back", len(got))
			}
		})
	}
	t.Run("a 63-character name is valid", func(t *testing.T) {
		name := strings.Repeat("c", 63)
		p, _, err := config.Parse("strata.yaml", []byte("project: shop\nenvironments:\n  "+name+": {}\n"), t.TempDir())
		if err != nil || p.Environment(name) == nil {
			t.Errorf("err = %v, want the environment %s", err, name)
		}
	})
}

func link(t *testing.T, target, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
