package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	hint "github.com/strata-dev/strata/internal/suggest"
)

// nameRE is what environment, service and stage names look like: they become file names,
// label values and parts of URLs.
var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-_.]*[a-z0-9])?$`)

// maxName bounds a name's length: a name becomes a directory name, a label value and a DNS
// label in many estates, and 63 is what a DNS label may hold.
const maxName = 63

const nameRule = "names are lower-case letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63 characters"

// badName returns the problem with name, a name of kind ("environment", "service", "stage"),
// or "" when it follows the rule. example is a good name of that kind.
func badName(kind, name, example string) string {
	if len(name) <= maxName && nameRE.MatchString(name) {
		return ""
	}
	return fmt.Sprintf("%s name %s is not valid; %s (e.g. %s)", kind, quoteShort(name), nameRule, example)
}

// keyRE is what config keys look like: each becomes an environment variable of the steps.
var keyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// didYouMean returns "; did you mean "X"?" or "" (internal/suggest).
func didYouMean(s string, candidates []string) string { return hint.DidYouMean(s, candidates) }

// listSome lists names, at most ten, then how many more (internal/suggest).
func listSome(names []string) string { return hint.List(names) }

// unknownKey says that key is not one of known, suggesting the closest and listing all.
func unknownKey(key, where string, known []string) string {
	sorted := slices.Sorted(slices.Values(known))
	list := strings.Join(sorted, ", ")
	if m := hint.Closest(key, known); m != "" {
		return fmt.Sprintf("unknown key %q in %s; did you mean %q? (known keys: %s)", key, where, m, list)
	}
	return fmt.Sprintf("unknown key %q in %s; known keys: %s", key, where, list)
}

// quoted returns names as "a", "b", "c".
func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
