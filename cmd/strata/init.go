package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/examples"
)

func (a *app) initCommand() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter strata.yaml",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := filepath.Join(a.dir, "strata.yaml")
			if _, err := os.Stat(path); err == nil && !force {
				return strata.Errorf(strata.EINVALID, "%s exists already; edit it, or pass --force to overwrite it", path)
			}
			if err := os.MkdirAll(a.dir, 0o755); err != nil {
				return fmt.Errorf("init: %w", err)
			}
			data := starterFor(a.dir)
			if err := writeFileAtomic(path, data, 0o644); err != nil {
				return fmt.Errorf("init: %w", err)
			}
			return a.print(map[string]any{"file": path}, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s\nnext: strata -C %s validate, then strata -C %s release app\n", path, a.dir, a.dir)
			})
		},
	}
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing strata.yaml")
	return c
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// starterFor returns the starter with its project named after dir.
func starterFor(dir string) []byte {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return examples.Starter
	}
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(filepath.Base(abs)), "-"), "-")
	if name == "" {
		return examples.Starter
	}
	lines := bytes.Split(examples.Starter, []byte("\n"))
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("project:")) {
			lines[i] = []byte("project: " + name)
			break
		}
	}
	return bytes.Join(lines, []byte("\n"))
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place, so
// a crash never leaves a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
