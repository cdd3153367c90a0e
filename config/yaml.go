package config

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"go.yaml.in/yaml/v3"
)

// aliasBudget bounds how many aliases one file may expand, so that a small file of nested
// aliases cannot make the walk exponential.
const aliasBudget = 10000

// loader gathers the project and every problem while the files are read.
type loader struct {
	p         *strata.Project
	probs     strata.Problems
	fileOrder map[string]int
	loaded    map[string]bool
	shownPath map[string]string

	envs       map[string]*strata.Environment
	svcs       map[string]*strata.Service
	stages     map[string]*stageMeta
	stageList  []*stageMeta
	groups     []*groupMeta
	labelPos   map[*strata.Environment]map[string]strata.Pos
	sawProject bool
	brokenTop  bool     // strata.yaml itself did not parse
	strs       []interp // strings whose ${...} are checked once every service is known
	owner      string   // the service being decoded, whose values those strings are ("" for none)

	flagRequires []flagRequire // `requires` of flags, checked once every service is known

	aliases     int
	aliasWarned bool

	sum hash.Hash // over every file read (Project.Digest)

	read    int    // bytes of included files read so far
	realDir string // the project directory with its links followed, once needed
}

func newLoader() *loader {
	return &loader{
		p:         &strata.Project{Defaults: map[string]strata.Value{}},
		fileOrder: map[string]int{},
		sum:       sha256.New(),
		loaded:    map[string]bool{},
		shownPath: map[string]string{},
		envs:      map[string]*strata.Environment{},
		svcs:      map[string]*strata.Service{},
		stages:    map[string]*stageMeta{},
		labelPos:  map[*strata.Environment]map[string]strata.Pos{},
	}
}

func (l *loader) errorf(at strata.Pos, format string, args ...any) {
	l.probs = append(l.probs, &strata.Problem{Pos: at, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) warnf(at strata.Pos, format string, args ...any) {
	l.probs = append(l.probs, &strata.Problem{Pos: at, Message: fmt.Sprintf(format, args...), Warning: true})
}

func (src *source) pos(n *yaml.Node) strata.Pos {
	if n == nil {
		return strata.Pos{File: src.name, Line: 1, Col: 1}
	}
	return strata.Pos{File: src.name, Line: max(n.Line, 1), Col: max(n.Column, 1)}
}

var lineRE = regexp.MustCompile(`line (\d+)(?:: column (\d+))?:?\s*`)

// parseYAML parses one file into its root node (nil for an empty file). A syntax error, or
// a panic inside the YAML library, becomes a problem at file:line:1.
func (l *loader) parseYAML(src *source, data []byte) (root *yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			l.errorf(src.pos(nil), "YAML syntax error: the parser failed on this file (%v); check its syntax", r)
			l.brokenTop = l.brokenTop || src.top
			root, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		l.syntaxError(src, err, data)
		l.brokenTop = l.brokenTop || src.top
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		at := &extra
		if len(extra.Content) > 0 {
			at = extra.Content[0]
		}
		l.errorf(src.pos(at), "a second YAML document; a Strata file holds one document (remove the \"---\" line)")
	} else if !errors.Is(err, io.EOF) {
		l.syntaxError(src, err, data)
		l.brokenTop = l.brokenTop || src.top
		return nil, false
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, true
		}
		return doc.Content[0], true
	}
	return &doc, true
}

func (l *loader) syntaxError(src *source, err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	at := strata.Pos{File: src.name, Line: 1, Col: 1}
	if m := lineRE.FindStringSubmatchIndex(msg); m != nil {
		at.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		if m[4] >= 0 {
			at.Col, _ = strconv.Atoi(msg[m[4]:m[5]])
		}
		msg = msg[:m[0]] + msg[m[1]:]
	}
	at.Line = max(at.Line, 1)
	at.Col = max(at.Col, 1)
	if k, ok := longKey(data, at.Line); ok {
		// The YAML library refuses a key longer than 1024 characters with a message about
		// syntax; the real problem is the key, most often a name.
		at.Line, at.Col = k.line, k.col
		if k.kind != "" {
			l.errorf(at, "%s", badName(k.kind, k.key, k.example))
		} else {
			l.errorf(at, "the key %s is longer than the 1024 characters a YAML key may have; shorten it", quoteShort(k.key))
		}
		return
	}
	msg = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(msg), "unmarshal errors:"))
	l.errorf(at, "YAML syntax error: %s; fix the syntax here (indentation, quoting, a missing \":\")", msg)
}

// deref follows aliases to the node they name, within the file's alias budget.
func (l *loader) deref(src *source, n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		l.aliases++
		if l.aliases > aliasBudget || depth > 100 {
			if !l.aliasWarned {
				l.aliasWarned = true
				l.errorf(src.pos(n), "too many YAML aliases (more than %d); write the values out", aliasBudget)
			}
			return nil
		}
		n = n.Alias
	}
	return n
}

// kindName names what a node is, for "expected X, found Y" messages.
func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "no value"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// pair is one key and value of a mapping.
type pair struct {
	key   string
	k, v  *yaml.Node
	merge bool
}

// mapping returns the pairs of a mapping node, reporting a node of another kind, duplicate
// keys (naming both lines), and keys that are not scalars. "<<" merge keys are expanded;
// the mapping's own keys win. A null node is an empty mapping.
func (l *loader) mapping(src *source, n *yaml.Node, what, example string) ([]pair, bool) {
	n = l.deref(src, n)
	if n == nil {
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(src.pos(n), "%s should be a mapping (key: value), found %s; write e.g. %s", what, kindName(n), example)
		return nil, false
	}
	var pairs, merged []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		k = l.deref(src, k)
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			l.errorf(src.pos(k), "a key in %s is %s; keys are plain names", what, kindName(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merged = append(merged, l.mergePairs(src, v, what, example)...)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.errorf(src.pos(k), "duplicate key %q in %s (first at %s); remove one", k.Value, what, src.pos(first))
			continue
		}
		seen[k.Value] = k
		pairs = append(pairs, pair{key: k.Value, k: k, v: v})
	}
	for _, m := range merged {
		if _, own := seen[m.key]; own {
			continue
		}
		seen[m.key] = m.k
		pairs = append(pairs, m)
	}
	return pairs, true
}

// mergePairs expands the value of a "<<" key: a mapping or a list of mappings, earlier
// mappings winning.
func (l *loader) mergePairs(src *source, v *yaml.Node, what, example string) []pair {
	v = l.deref(src, v)
	if v == nil {
		return nil
	}
	var maps []*yaml.Node
	if v.Kind == yaml.SequenceNode {
		maps = v.Content
	} else {
		maps = []*yaml.Node{v}
	}
	var out []pair
	seen := map[string]bool{}
	for _, m := range maps {
		m = l.deref(src, m)
		if m == nil {
			continue
		}
		if m.Kind != yaml.MappingNode {
			l.errorf(src.pos(m), "a merge (<<) in %s needs a mapping, found %s; merge an anchored mapping such as <<: *base", what, kindName(m))
			continue
		}
		ps, _ := l.mapping(src, m, what, example)
		for _, p := range ps {
			if !seen[p.key] {
				seen[p.key] = true
				p.merge = true
				out = append(out, p)
			}
		}
	}
	return out
}

// sequence returns the items of a list node; a null node is an empty list.
func (l *loader) sequence(src *source, n *yaml.Node, what, example string) ([]*yaml.Node, bool) {
	n = l.deref(src, n)
	if n == nil {
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(src.pos(n), "%s should be a list, found %s; write e.g. %s", what, kindName(n), example)
		return nil, false
	}
	return n.Content, true
}

// scalar returns a scalar's text; a missing value, a list or a mapping is a problem.
func (l *loader) scalar(src *source, n *yaml.Node, what, example string) (string, bool) {
	n = l.deref(src, n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		l.errorf(src.pos(n), "%s should be a single value, found %s; write e.g. %s", what, kindName(n), example)
		return "", false
	}
	return n.Value, true
}

func (l *loader) boolean(src *source, n *yaml.Node, what string) (bool, bool) {
	n = l.deref(src, n)
	if n == nil {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		l.errorf(src.pos(n), "%s should be true or false, found %s", what, kindName(n))
		return false, false
	}
	var b bool
	if err := safeDecode(n, &b); err != nil {
		l.errorf(src.pos(n), "%s should be true or false, found %s", what, kindName(n))
		return false, false
	}
	return b, true
}

func (l *loader) integer(src *source, n *yaml.Node, what, example string) (int64, bool) {
	n = l.deref(src, n)
	if n == nil {
		return 0, false
	}
	var i int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || safeDecode(n, &i) != nil {
		l.errorf(src.pos(n), "%s should be a whole number, found %s; write e.g. %s", what, kindName(n), example)
		return 0, false
	}
	return i, true
}

// duration parses Go duration text ("30s", "1h30m"); negative durations are problems.
func (l *loader) duration(src *source, n *yaml.Node, what, example string) (time.Duration, bool) {
	n = l.deref(src, n)
	if n == nil {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		l.errorf(src.pos(n), "%s should be a duration, found %s; write e.g. %q or \"1h30m\"", what, kindName(n), example)
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d < 0 {
		hint := ""
		if n.ShortTag() == "!!int" {
			hint = fmt.Sprintf(" (a unit is needed: %ss?)", n.Value)
		}
		l.errorf(src.pos(n), "%s %q is not a duration%s; write e.g. %q or \"1h30m\"", what, n.Value, hint, example)
		return 0, false
	}
	return d, true
}

// value reads a config value: a typed scalar kept as string, int64, float64 or bool.
func (l *loader) value(src *source, n *yaml.Node, what string) (strata.Value, bool) {
	n = l.deref(src, n)
	if n == nil {
		return strata.Value{}, false
	}
	at := src.pos(n)
	if n.Kind != yaml.ScalarNode {
		l.errorf(at, "%s should be a single value (string, number or boolean), found %s; config values are scalars", what, kindName(n))
		return strata.Value{}, false
	}
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!timestamp", "!!binary":
		return strata.Value{V: n.Value, Pos: at}, true
	case "!!int":
		var i int64
		if err := safeDecode(n, &i); err != nil {
			l.errorf(at, "%s %s does not fit a 64-bit integer; quote it to keep it as text", what, n.Value)
			return strata.Value{}, false
		}
		return strata.Value{V: i, Pos: at}, true
	case "!!float":
		var f float64
		if err := safeDecode(n, &f); err != nil {
			l.errorf(at, "%s %s is not a number; quote it to keep it as text", what, n.Value)
			return strata.Value{}, false
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// JSON, the API and every output document carry finite numbers only.
			l.errorf(at, "%s %s is not a finite number; write a number such as 1.5, or quote it to keep it as text", what, n.Value)
			return strata.Value{}, false
		}
		return strata.Value{V: f, Pos: at}, true
	case "!!bool":
		var b bool
		if err := safeDecode(n, &b); err != nil {
			l.errorf(at, "%s %s is not a boolean; quote it to keep it as text", what, n.Value)
			return strata.Value{}, false
		}
		return strata.Value{V: b, Pos: at}, true
	case "!!null":
		l.errorf(at, "%s has no value; write a value, or \"\" for an empty string", what)
		return strata.Value{}, false
	default:
		l.errorf(at, "%s has the tag %s, which Strata does not read; remove the tag", what, tag)
		return strata.Value{}, false
	}
}

// safeDecode decodes a scalar node, turning any panic of the YAML library into an error.
func safeDecode(n *yaml.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return n.Decode(v)
}

// overlong is a mapping key too long for the YAML library, and what it names.
type overlong struct {
	key, kind, example string
	line, col          int
}

// longKey looks for a key longer than 1024 characters on the lines around line (where the
// YAML library stopped), and says which kind of name it is from the section it is under.
func longKey(data []byte, line int) (overlong, bool) {
	lines := strings.Split(string(data), "\n")
	for i := max(line-2, 0); i < min(line+1, len(lines)); i++ {
		text := lines[i]
		trimmed := strings.TrimLeft(text, " ")
		indent := len(text) - len(trimmed)
		key := trimmed
		if q := key[:min(len(key), 1)]; q == `"` || q == "'" {
			end := strings.Index(key[1:], q)
			if end < 0 {
				continue
			}
			key = key[1 : end+1]
		} else if c := strings.Index(key, ":"); c >= 0 {
			key = key[:c]
		} else {
			continue
		}
		if len(key) <= 1024 {
			continue
		}
		k := overlong{key: key, line: i + 1, col: indent + 1}
		for j := i - 1; j >= 0; j-- {
			t := strings.TrimLeft(lines[j], " ")
			if t == "" || strings.HasPrefix(t, "#") || len(lines[j])-len(t) >= indent {
				continue
			}
			switch strings.TrimSpace(t) {
			case "environments:":
				k.kind, k.example = "environment", "prod-eu"
			case "services:":
				k.kind, k.example = "service", "api"
			}
			break
		}
		return k, true
	}
	return overlong{}, false
}
