// Package config reads strata.yaml and the files it includes into a *strata.Project.
//
// It walks the YAML node tree itself rather than unmarshalling into structs, so that every
// value keeps the file, line and column it was written at, and so that every problem in the
// estate is reported at once, each as "file:line:col: what is wrong; what would be right".
// It resolves what needs no store: labels and policy through extends, and stage membership.
// Configuration values are checked against the service schemas when they are literals;
// values that interpolate (${...}) are left to the layer package.
package config

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
)

// FileName is the name of the project file in a project directory.
const FileName = "strata.yaml"

// Load reads dir/strata.yaml and every file it includes. Positions name files as
// filepath.Join(dir, "strata.yaml"), and included files joined to the including file's
// directory. It returns the project (nil when there are errors), every problem found (errors
// and warnings, sorted by file, line and column) and problems.Err(), or an I/O error.
func Load(dir string) (*strata.Project, strata.Problems, error) {
	file := filepath.Join(dir, FileName)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		shown := dir
		if shown == "" {
			shown = "."
		}
		return nil, nil, strata.Errorf(strata.EINVALID, "no %s in %s; run `strata init`", FileName, shown)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", file, err)
	}
	return Parse(file, data, dir)
}

// Parse is Load on bytes already read: file is the name positions use, and dir the directory
// that includes resolve against (and that Project.Dir names).
func Parse(file string, data []byte, dir string) (*strata.Project, strata.Problems, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", file, err)
	}
	l := newLoader()
	l.p.Dir = abs
	l.p.File = file
	top := &source{name: file, dir: abs, shownDir: filepath.Dir(file)}
	l.loadFile(top, data, nil)
	l.resolve()
	l.p.Digest = hex.EncodeToString(l.sum.Sum(nil))
	probs := l.sorted()
	if err := probs.Err(); err != nil {
		return nil, probs, err
	}
	l.p.Index()
	return l.p, probs, nil
}

// source is one file being read: the name positions show, and the real directory its
// includes resolve against.
type source struct {
	name     string
	path     string // cleaned real path, for cycle detection
	dir      string
	shownDir string
	top      bool
}

func (l *loader) sorted() strata.Problems {
	probs := slices.Clone(l.probs)
	slices.SortStableFunc(probs, func(a, b *strata.Problem) int {
		fa, oka := l.fileOrder[a.Pos.File]
		fb, okb := l.fileOrder[b.Pos.File]
		if !oka || !okb || fa != fb {
			if oka && okb {
				return cmp.Compare(fa, fb)
			}
			return cmp.Compare(a.Pos.File, b.Pos.File)
		}
		if c := cmp.Compare(a.Pos.Line, b.Pos.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Pos.Col, b.Pos.Col)
	})
	return probs
}

// include reads the files that one `include:` entry names (a path or a glob relative to the
// including file) and loads each in turn.
func (l *loader) include(from *source, pattern string, at strata.Pos, stack []string) {
	if pattern == "" {
		l.errorf(at, "empty include; name a file such as \"environments.yaml\" or a glob such as \"envs/*.yaml\"")
		return
	}
	real := pattern
	if !filepath.IsAbs(real) {
		real = filepath.Join(from.dir, pattern)
	}
	var matches []string
	if strings.ContainsAny(pattern, "*?[") {
		m, err := filepath.Glob(real)
		if err != nil {
			l.errorf(at, "bad include pattern %q: %v; use a glob such as \"envs/*.yaml\"", pattern, err)
			return
		}
		if len(m) == 0 {
			l.errorf(at, "include %q matches no file; check the pattern (relative to %s)", pattern, shownDir(from.shownDir))
			return
		}
		matches = m
	} else {
		matches = []string{real}
	}
	for _, m := range matches {
		shown := m
		if !filepath.IsAbs(pattern) {
			if rel, err := filepath.Rel(from.dir, m); err == nil {
				shown = filepath.Join(from.shownDir, rel)
			}
		}
		clean := filepath.Clean(m)
		if i := slices.Index(stack, clean); i >= 0 {
			var names []string
			for _, s := range stack[i:] {
				names = append(names, l.shownPath[s])
			}
			names = append(names, shown)
			l.errorf(at, "include cycle: %s; remove one of these includes", strings.Join(names, " -> "))
			continue
		}
		if l.loaded[clean] {
			continue // included twice along different paths: once is enough
		}
		data, err := readRegular(m)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				l.errorf(at, "included file %s does not exist; check the path (relative to %s)", shown, shownDir(from.shownDir))
			} else {
				l.errorf(at, "cannot read included file %s: %v; include a YAML file", shown, err)
			}
			continue
		}
		src := &source{name: shown, path: clean, dir: filepath.Dir(clean), shownDir: filepath.Dir(shown)}
		l.loadFile(src, data, stack)
	}
}

func shownDir(d string) string {
	if d == "" || d == "." {
		return "the project directory"
	}
	return d
}

// loadFile parses one file and decodes its top-level keys in order; includes load where
// they appear, so declaration order is reading order.
func (l *loader) loadFile(src *source, data []byte, stack []string) {
	if _, ok := l.fileOrder[src.name]; !ok {
		l.fileOrder[src.name] = len(l.fileOrder)
	}
	if src.path == "" {
		src.path = filepath.Clean(filepath.Join(src.dir, filepath.Base(src.name)))
		src.top = true
	}
	l.loaded[src.path] = true
	l.shownPath[src.path] = src.name
	fmt.Fprintf(l.sum, "%d:%s%d:", len(src.path), src.path, len(data))
	l.sum.Write(data)
	stack = append(slices.Clone(stack), src.path)

	root, ok := l.parseYAML(src, data)
	if !ok {
		return
	}
	l.decodeTop(src, root, stack)
}

// maxFileSize bounds what an include may read.
const maxFileSize = 16 << 20

// readRegular reads a regular file of reasonable size: an include of a device, a pipe or a
// directory is a mistake, and must not hang or exhaust memory.
func readRegular(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	switch {
	case fi.IsDir():
		return nil, fmt.Errorf("it is a directory; include its files with a glob such as dir/*.yaml")
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("it is not a regular file")
	case fi.Size() > maxFileSize:
		return nil, fmt.Errorf("it is larger than %d MiB", maxFileSize>>20)
	}
	return os.ReadFile(path)
}
