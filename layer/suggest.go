package layer

import (
	"strconv"
	"strings"
)

// suggest returns "; did you mean \"X\"?" for the candidate closest to name, or "" when none
// is close enough to be a likely typo: the same limit as the config package's (one edit per
// three letters, at most three), so that a short name is not "corrected" into an unrelated one.
func suggest(name string, candidates []string) string {
	best, bestD := "", max(1, min(3, (len(name)+2)/3))
	for _, c := range candidates {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d <= bestD && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + strconv.Quote(best) + "?"
}

// knownNames returns "; known: a, b, c" (at most ten, then how many more) and a suggestion.
func knownNames(name string, names []string) string {
	if len(names) == 0 {
		return "; none are declared"
	}
	const most = 10
	shown := names
	if len(shown) > most {
		shown = shown[:most]
	}
	s := "; known: " + strings.Join(shown, ", ")
	if len(names) > most {
		s += " and " + strconv.Itoa(len(names)-most) + " more"
	}
	return s + suggest(name, names)
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
