package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/strata-dev/strata"
)

// A release's recipe is the files its steps use (the service's scripts), copied when the
// release is made and kept read-only under StateDir/recipes/<sha256 hex>. Deploy, rollback
// and resume run the copy, so that editing a script after a release changes nothing about
// how that release is deployed; the next release takes the edit.

// Bounds on one recipe: a bundle is the service's scripts, not its source tree, and a glob
// that matches a node_modules must fail with a clear message rather than fill the disk.
const (
	maxRecipeFiles = 2000
	maxRecipeBytes = 64 << 20
)

// recipeDir is where a release's recipe lives on this machine: StateDir/recipes/<sha256 hex>,
// in the cache of bundles (bundles.go).
func (e *Engine) recipeDir(rel *strata.Release) string {
	return e.local().RecipePath(rel.Recipe)
}

// recipePath is the directory a step finds the release's copy of its files in
// ($STRATA_RECIPE): the recipe's directory, or the project directory for a release without
// one (made before bundles, or whose steps use no file).
func (e *Engine) recipePath(rel *strata.Release) string {
	if rel == nil || rel.Recipe == "" {
		return e.Project.Dir
	}
	return e.recipeDir(rel)
}

// bundlePatterns returns the paths or globs that make up svc's recipe, each with where it
// comes from for messages: services.NAME.bundle when declared, else the default.
func bundlePatterns(p *strata.Project, svc *strata.Service) (patterns, from []string) {
	if len(svc.Bundle) > 0 {
		for i, b := range svc.Bundle {
			patterns = append(patterns, b)
			from = append(from, fmt.Sprintf("services.%s.bundle (%s)", svc.Name, svc.BundlePos[i]))
		}
		return patterns, from
	}
	seen := map[string]bool{}
	add := func(path, why string) {
		if !seen[path] {
			seen[path] = true
			patterns, from = append(patterns, path), append(from, why)
		}
	}
	for _, st := range stepCommands(svc) {
		word := scriptWord(st.run)
		if word == "" {
			continue
		}
		full := filepath.Join(p.Dir, word)
		if !within(p.Dir, full) {
			continue
		}
		if info, err := os.Stat(full); err != nil || !info.Mode().IsRegular() {
			continue
		}
		why := fmt.Sprintf("the %s step of %s (%s)", st.kind, svc.Name, st.pos)
		add(filepath.Clean(word), why)
		if dir := filepath.Dir(filepath.Clean(word)); dir != "." {
			add(dir, why)
		}
	}
	return patterns, from
}

type stepCommand struct {
	kind, run string
	pos       strata.Pos
}

// stepCommands lists the commands svc's steps run in an environment (build runs in the
// project at release time, so it needs no copy).
func stepCommands(svc *strata.Service) []stepCommand {
	var out []stepCommand
	for _, s := range []struct {
		kind string
		st   *strata.Step
	}{{"deploy", svc.Deploy}, {"destroy", svc.Destroy}, {"observe", svc.Observe}} {
		if s.st != nil && s.st.Run != "" {
			out = append(out, stepCommand{s.kind, s.st.Run, s.st.Pos})
		}
	}
	if svc.Health != nil && svc.Health.Command != "" {
		out = append(out, stepCommand{"health", svc.Health.Command, svc.Health.Pos})
	}
	// A runbook's script travels too: an agent, which has no checkout, runs it from the
	// recipe of the release running in its environment.
	for _, name := range svc.RunbookNames() {
		if rb := svc.Runbooks[name]; rb.Run != "" {
			out = append(out, stepCommand{"runbook " + name, rb.Run, rb.Pos})
		}
	}
	return out
}

// scriptWord returns a command's first word when it is a plain relative path (holding a
// '/', no quotes, variables or globs), else "".
func scriptWord(run string) string {
	fields := strings.Fields(run)
	if len(fields) == 0 {
		return ""
	}
	w := fields[0]
	if !plainPath(w) {
		return ""
	}
	return w
}

// plainPath reports whether w is a relative path the shell takes literally.
func plainPath(w string) bool {
	return w != "" && !filepath.IsAbs(w) && strings.Contains(w, "/") && !strings.ContainsAny(w, "$`'\"\\*?[]{}~;&|<>()=#!")
}

// within reports whether path is dir or lies below it, by their names alone.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// recipeFileList expands svc's bundle into the project-relative paths of regular files,
// sorted. Every path stays inside the project directory, links followed; .git and Strata's
// state directory are never taken.
func (e *Engine) recipeFileList(svc *strata.Service) ([]string, error) {
	dir := e.Project.Dir
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		realDir = dir
	}
	state, _ := filepath.Abs(e.StateDir)
	patterns, from := bundlePatterns(e.Project, svc)
	files := map[string]bool{}
	var size int64
	addFile := func(path, where string) error {
		rel, err := filepath.Rel(dir, path)
		if err != nil || !within(dir, path) {
			return strata.Errorf(strata.EINVALID, "%s: %s leaves the project directory; a bundle names files inside it", where, path)
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return strata.Errorf(strata.EINVALID, "%s: %s cannot be read: %w", where, rel, err)
		}
		if !within(realDir, real) {
			return strata.Errorf(strata.EINVALID, "%s: %s is a link that leads out of the project directory; bundle the file it points to instead", where, rel)
		}
		info, err := os.Stat(real)
		if err != nil || !info.Mode().IsRegular() || files[filepath.ToSlash(rel)] {
			return nil
		}
		files[filepath.ToSlash(rel)] = true
		size += info.Size()
		if len(files) > maxRecipeFiles {
			return strata.Errorf(strata.EINVALID, "%s: the bundle holds more than %d files; name the service's scripts, not its source tree", where, maxRecipeFiles)
		}
		if size > maxRecipeBytes {
			return strata.Errorf(strata.EINVALID, "%s: the bundle's files come to more than %d MiB; name the service's scripts, and ship the rest as artifacts", where, maxRecipeBytes>>20)
		}
		return nil
	}
	for i, pattern := range patterns {
		full := filepath.Join(dir, pattern)
		if filepath.IsAbs(pattern) || !within(dir, full) {
			return nil, strata.Errorf(strata.EINVALID, "%s: %q leaves the project directory; a bundle names files inside it, such as \"deploy/*.sh\"", from[i], pattern)
		}
		matches, err := filepath.Glob(full)
		if err != nil {
			return nil, strata.Errorf(strata.EINVALID, "%s: %q is not a valid glob: %w", from[i], pattern, err)
		}
		if len(matches) == 0 {
			return nil, strata.Errorf(strata.EINVALID, "%s: %q matches no file in %s; fix the entry or add the file", from[i], pattern, dir)
		}
		for _, m := range matches {
			err := filepath.WalkDir(m, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					if abs, _ := filepath.Abs(path); d.Name() == ".git" || abs == state {
						return filepath.SkipDir
					}
					return nil
				}
				return addFile(path, from[i])
			})
			if err != nil {
				var se *strata.Error
				if errors.As(err, &se) {
					return nil, err
				}
				return nil, fmt.Errorf("%s: read %q: %w", from[i], pattern, err)
			}
		}
	}
	list := make([]string, 0, len(files))
	for f := range files {
		list = append(list, f)
	}
	sort.Strings(list)
	return list, nil
}

// storeRecipe copies svc's bundle files to StateDir/recipes/<digest>, read-only, and returns
// the digest; "" when the bundle is empty (a service whose steps use no file of the project).
func (e *Engine) storeRecipe(svc *strata.Service) (string, error) {
	files, err := e.recipeFileList(svc)
	if err != nil || len(files) == 0 {
		return "", err
	}
	root := filepath.Join(e.StateDir, "recipes")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("store the recipe of %s: %w", svc.Name, err)
	}
	tmp, err := os.MkdirTemp(root, ".copy-")
	if err != nil {
		return "", fmt.Errorf("store the recipe of %s: %w", svc.Name, err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		if err := copyFile(filepath.Join(e.Project.Dir, filepath.FromSlash(f)), filepath.Join(tmp, filepath.FromSlash(f))); err != nil {
			return "", fmt.Errorf("store the recipe of %s: %w", svc.Name, err)
		}
	}
	return commitDir(tmp, root)
}

// commitDir digests tmp, makes it read-only and renames it to root/<hex>, keeping an
// existing copy with the same digest. It returns the digest.
func commitDir(tmp, root string) (string, error) {
	digest, err := digestDir(tmp)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, strings.TrimPrefix(digest, "sha256:"))
	if _, err := os.Stat(dir); err == nil {
		return digest, nil
	}
	if err := readOnly(tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr != nil {
			return "", err
		}
	}
	return digest, nil
}

// copyFile copies the regular file src (links followed) to dst, keeping its execute bits.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// verifyRecipe hashes a release's recipe again before a step runs it. It returns why it
// cannot be used, or "".
func (e *Engine) verifyRecipe(rel *strata.Release) string {
	if rel.Recipe == "" {
		return ""
	}
	dir := e.recipeDir(rel)
	got, err := digestDir(dir)
	if err != nil {
		return fmt.Sprintf("the recipe (step files) of %s@%s cannot be read (%v); release it again under a new version", rel.Service, rel.Version, err)
	}
	if got != rel.Recipe {
		return fmt.Sprintf("the recipe (step files) of %s@%s in %s was changed after the release (digest %s, recorded %s); release it again under a new version", rel.Service, rel.Version, dir, short(got), short(rel.Recipe))
	}
	return ""
}

// recipeCommand points a step command at the release's copy of its files: each word of text
// that names a file of the recipe (such as ./deploy/web.sh) becomes the quoted path of the
// copy. text is a command as layer.ExpandCommand made it, in which every value is a
// variable reference, so only words written in strata.yaml can match. The step still runs
// in the project directory, where the state it keeps lives.
func (e *Engine) recipeCommand(rel *strata.Release, text string) string {
	if rel == nil || rel.Recipe == "" {
		return text
	}
	dir := e.recipeDir(rel)
	var b strings.Builder
	rest := text
	for rest != "" {
		i := strings.IndexFunc(rest, isSpace)
		if i == 0 {
			b.WriteByte(rest[0])
			rest = rest[1:]
			continue
		}
		word := rest
		if i > 0 {
			word = rest[:i]
		}
		rest = rest[len(word):]
		if plainPath(word) {
			clean := filepath.Clean(word)
			if within(".", clean) {
				path := filepath.Join(dir, clean)
				if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
					b.WriteString(shellQuote(path))
					continue
				}
			}
		}
		b.WriteString(word)
	}
	return b.String()
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }
