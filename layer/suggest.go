package layer

import hint "github.com/strata-dev/strata/internal/suggest"

// suggest returns "; did you mean \"X\"?" for the name most likely meant, or "": the words
// and the typo rule of every other "unknown" message (internal/suggest).
func suggest(name string, candidates []string) string { return hint.DidYouMean(name, candidates) }

// knownNames returns "; known: a, b, c" (at most ten, then how many more) and a suggestion.
func knownNames(name string, names []string) string {
	return "; known: " + hint.List(names) + hint.DidYouMean(name, names)
}
