package config

import (
	"path/filepath"
	"strings"

	"github.com/strata-dev/strata"
	"go.yaml.in/yaml/v3"
)

const bundleExample = "bundle: [deploy/web.sh, deploy/lib/*.sh]"

// decodeBundle reads `bundle:`, the files a release copies for the service's steps: paths
// or globs relative to the project directory. Each must stay inside the project directory
// and name at least one file now, so that a typo fails here rather than leave a release
// without the script it needs.
func (l *loader) decodeBundle(src *source, svc *strata.Service, n *yaml.Node) {
	n = l.deref(src, n)
	if n == nil || isNull(n) {
		return
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	seen := map[string]strata.Pos{}
	for _, it := range items {
		pattern, ok := l.scalar(src, it, "a bundle entry", bundleExample)
		if !ok {
			continue
		}
		at := src.pos(l.deref(src, it))
		if prev, dup := seen[pattern]; dup {
			l.errorf(at, "bundle names %s twice (first at %s); remove one", quoteShort(pattern), prev)
			continue
		}
		seen[pattern] = at
		if msg := l.checkBundle(pattern); msg != "" {
			l.errorf(at, "bundle entry %s %s; %s", quoteShort(pattern), msg, "a bundle names files inside the project directory, relative to it, such as \"deploy/web.sh\" or \"deploy/*.sh\"")
			continue
		}
		svc.Bundle = append(svc.Bundle, pattern)
		svc.BundlePos = append(svc.BundlePos, at)
	}
}

// checkBundle says what is wrong with one bundle pattern, or "".
func (l *loader) checkBundle(pattern string) string {
	switch {
	case pattern == "":
		return "is empty"
	case filepath.IsAbs(pattern):
		return "is an absolute path"
	case strings.ContainsRune(pattern, 0):
		return "holds a NUL byte"
	}
	full := filepath.Join(l.p.Dir, pattern)
	if !within(l.p.Dir, full) {
		return "leaves the project directory"
	}
	if _, err := filepath.Match(pattern, ""); err != nil {
		return "is not a valid glob (" + err.Error() + ")"
	}
	matches, _ := filepath.Glob(full)
	if len(matches) == 0 {
		return "matches no file"
	}
	for _, m := range matches {
		if !l.realWithin(m) {
			return "matches " + quoteShort(filepath.Base(m)) + ", a link that leads out of the project directory"
		}
	}
	return ""
}
