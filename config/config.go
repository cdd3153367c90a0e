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
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	data, err := readRegular(file)
	if errors.Is(err, fs.ErrNotExist) {
		shown := dir
		if shown == "" {
			shown = "."
		}
		return nil, nil, strata.Errorf(strata.EINVALID, "no %s in %s; run `strata init`", FileName, shown)
	}
	var big *tooBig
	if errors.As(err, &big) {
		return nil, nil, strata.Errorf(strata.EINVALID, "%s: %w", file, err)
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
	if len(data) > MaxFileSize {
		return nil, nil, strata.Errorf(strata.EINVALID, "%s: %w", file, &tooBig{size: int64(len(data))})
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

// maxIncludes bounds the files one include entry may name: a glob that matches more was
// almost surely not meant ("**/*" in a tree with a node_modules), and reading them all
// would take long and much memory before saying so.
const maxIncludes = 1000

// include reads the files that one `include:` entry names (a path or a glob relative to the
// including file) and loads each in turn. Every file must lie inside the project directory,
// after links are followed: a project's configuration is what the project holds, and an
// include must not become a way to read, or print, any file on the machine.
func (l *loader) include(from *source, pattern string, at strata.Pos, stack []string) {
	const example = "; an include names files inside the project directory, relative to the including file, such as \"envs/*.yaml\""
	if pattern == "" {
		l.errorf(at, "empty include; name a file such as \"environments.yaml\" or a glob such as \"envs/*.yaml\"")
		return
	}
	if filepath.IsAbs(pattern) {
		l.errorf(at, "include %s is an absolute path%s", quoteShort(pattern), example)
		return
	}
	real := filepath.Join(from.dir, pattern)
	if !within(l.p.Dir, real) {
		l.errorf(at, "include %s leaves the project directory%s", quoteShort(pattern), example)
		return
	}
	var matches []string
	if strings.ContainsAny(pattern, "*?[") {
		m, err := filepath.Glob(real)
		if err != nil {
			l.errorf(at, "bad include pattern %s: %v; use a glob such as \"envs/*.yaml\"", quoteShort(pattern), err)
			return
		}
		if len(m) == 0 {
			l.errorf(at, "include %s matches no file; check the pattern (relative to %s)", quoteShort(pattern), shownDir(from.shownDir))
			return
		}
		if len(m) > maxIncludes {
			l.errorf(at, "include %s matches %d files, more than the %d one include may name; narrow the pattern, such as \"envs/*.yaml\"", quoteShort(pattern), len(m), maxIncludes)
			return
		}
		matches = m
	} else {
		matches = []string{real}
	}
	for _, m := range matches {
		shown := m
		if rel, err := filepath.Rel(from.dir, m); err == nil {
			shown = filepath.Join(from.shownDir, rel)
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
		if !l.realWithin(clean) {
			l.errorf(at, "included file %s is a link that leads out of the project directory%s", shown, example)
			continue
		}
		data, err := readRegular(m)
		if err == nil && l.read+len(data) > maxTotalSize {
			err = fmt.Errorf("the files included so far and it come to more than %d MiB; a project's configuration is smaller", maxTotalSize>>20)
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				l.errorf(at, "included file %s does not exist; check the path (relative to %s)", shown, shownDir(from.shownDir))
			} else {
				l.errorf(at, "cannot read included file %s: %v; include a YAML file", shown, err)
			}
			continue
		}
		l.read += len(data)
		src := &source{name: shown, path: clean, dir: filepath.Dir(clean), shownDir: filepath.Dir(shown)}
		l.loadFile(src, data, stack)
	}
}

// within reports whether path is dir or lies below it, by their names alone.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// realWithin reports whether path, its links followed, lies inside the project directory
// (its links followed too). A path that does not resolve is left to the read to report.
func (l *loader) realWithin(path string) bool {
	if l.realDir == "" {
		l.realDir = l.p.Dir
		if d, err := filepath.EvalSymlinks(l.p.Dir); err == nil {
			l.realDir = d
		}
	}
	rp, err := filepath.EvalSymlinks(path)
	return err != nil || within(l.realDir, rp)
}

// quoteShort quotes s for a message, cut to its first 60 bytes when longer, so that a
// hostile file's megabyte of text is not printed back.
func quoteShort(s string) string {
	const keep = 60
	if len(s) <= keep {
		return strconv.Quote(s)
	}
	return strconv.Quote(strata.CutText(s, keep)) + "... (" + strconv.Itoa(len(s)) + " bytes)"
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

// MaxFileSize bounds strata.yaml and each file it includes, in bytes; maxTotalSize bounds
// them all together. A real estate of thousands of environments takes a few hundred KiB: a
// file past these is a mistake or an attack, and is refused before it is parsed.
const (
	MaxFileSize  = 8 << 20
	maxTotalSize = 64 << 20
)

// tooBig says that a file is larger than MaxFileSize.
type tooBig struct{ size int64 }

func (e *tooBig) Error() string {
	return fmt.Sprintf("it is %.1f MiB, more than the %d MiB a configuration file may have; split it with include, or remove what does not belong in it",
		float64(e.size)/(1<<20), MaxFileSize>>20)
}

// readRegular reads a regular file of at most MaxFileSize bytes: an include of a device, a
// pipe or a directory is a mistake, and must not hang or exhaust memory. It reads no more
// than the bound, even from a file that grows while it is read.
func readRegular(path string) ([]byte, error) {
	// Stat before opening: opening a named pipe would wait for a writer.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	switch {
	case fi.IsDir():
		return nil, fmt.Errorf("it is a directory; include its files with a glob such as dir/*.yaml")
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("it is not a regular file")
	case fi.Size() > MaxFileSize:
		return nil, &tooBig{size: fi.Size()}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &tooBig{size: int64(len(data))}
	}
	return data, nil
}
