package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
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

// suggest returns the candidate closest to s by edit distance, or "" when none is close
// enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", -1
	limit := max(1, min(3, (len(s)+2)/3))
	for _, c := range candidates {
		if c == s {
			continue
		}
		if strings.EqualFold(c, s) {
			return c
		}
		d := distance(s, c)
		if d <= limit && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean returns "; did you mean "X"?" or "".
func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return fmt.Sprintf("; did you mean %q?", m)
	}
	return ""
}

// unknownKey says that key is not one of known, suggesting the closest and listing all.
func unknownKey(key, where string, known []string) string {
	sorted := slices.Sorted(slices.Values(known))
	list := strings.Join(sorted, ", ")
	if m := suggest(key, known); m != "" {
		return fmt.Sprintf("unknown key %q in %s; did you mean %q? (known keys: %s)", key, where, m, list)
	}
	return fmt.Sprintf("unknown key %q in %s; known keys: %s", key, where, list)
}

// distance is the optimal string alignment distance: insertions, deletions, substitutions
// and transpositions of neighbours each cost one.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return max(len(ra), len(rb))
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// quoted returns names as "a", "b", "c".
func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
