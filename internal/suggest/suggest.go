// Package suggest words what Strata says about a name it does not know: the known names,
// listed briefly, and the one the user most likely meant. Configuration errors, CLI errors
// and API errors all say it the same way, from here.
package suggest

import (
	"strconv"
	"strings"
)

// most is how many names a list shows: an estate of hundreds of tenant environments must
// not turn one typo into a page of output.
const most = 10

// List returns names as "a, b, c": at most ten, then how many more; "(none)" when there are
// none, so that a message never ends in an empty list.
func List(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:most], ", ") + " and " + strconv.Itoa(len(names)-most) + " more"
}

// Unknown returns `unknown KIND "NAME"; known: LIST`, followed by DidYouMean.
func Unknown(kind, name string, known []string) string {
	return "unknown " + kind + " " + strconv.Quote(name) + "; known: " + List(known) + DidYouMean(name, known)
}

// DidYouMean returns `; did you mean "X"?` for the candidate Closest to name, or "".
func DidYouMean(name string, candidates []string) string {
	if c := Closest(name, candidates); c != "" {
		return "; did you mean " + strconv.Quote(c) + "?"
	}
	return ""
}

// Closest returns the candidate most likely meant by name, or "" when none is close enough
// to be a likely typo. Case does not count; otherwise one edit is allowed per three letters,
// at most three, so that a short name is not "corrected" into an unrelated one. Name itself
// is never suggested. Of equally close candidates the first wins.
func Closest(name string, candidates []string) string {
	lower := strings.ToLower(name)
	best, bestD := "", max(1, min(3, (len([]rune(name))+2)/3))+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		lc := strings.ToLower(c)
		if lc == lower {
			return c
		}
		if d := Distance(lower, lc); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Distance is the optimal string alignment distance between a and b, in runes: insertions,
// deletions, substitutions and transpositions of neighbours each cost one. Strings longer
// than 64 runes are compared whole (0 when equal, else the longer length), so a hostile
// name costs no more than a short one.
func Distance(a, b string) int {
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
