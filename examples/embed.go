// Package examples carries the example estates inside the strata binary: the commented
// starter that `strata init` writes, and the shop estate that `strata demo` copies into a
// temporary directory and runs end to end on loopback.
//
// The estates themselves live beside this file (starter/, shop/) as plain files, so they can
// be read, validated and run in place too.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Starter is the commented strata.yaml that `strata init` writes: one service, dev, staging
// and prod, and a pipeline through them. It validates as it is, and its steps need nothing
// but /bin/sh.
//
//go:embed starter/strata.yaml
var Starter []byte

// Shop is the shop estate, under the directory "shop": strata.yaml, the app's source, the
// deploy scripts and the migrations. Its files are named one by one so that what running the
// estate in place leaves behind (.strata/, .run/) never ends up in the binary.
//
//go:embed shop/strata.yaml shop/README.md shop/.gitignore shop/app shop/deploy shop/migrations
var Shop embed.FS

// CopyShop writes the shop estate into dir, creating dir when needed and overwriting files
// of the same names. Shell scripts are made executable (embedding drops file modes), though
// the estate runs them as `sh ./deploy/x.sh` and needs no executable bit.
func CopyShop(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("copy shop estate: %w", err)
	}
	err := fs.WalkDir(Shop, "shop", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(name, "shop"), "/")
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := Shop.ReadFile(name)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if path.Ext(name) == ".sh" {
			mode = 0o755
		}
		if err := os.WriteFile(target, data, mode); err != nil {
			return err
		}
		// WriteFile keeps the mode of a file that already exists; make it what we said.
		return os.Chmod(target, mode)
	})
	if err != nil {
		return fmt.Errorf("copy shop estate to %s: %w", dir, err)
	}
	return nil
}
