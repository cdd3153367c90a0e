package suggest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/suggest"
)

func TestClosestSuggestsOnlyLikelyTypos(t *testing.T) {
	envs := []string{"dev", "staging", "prod-us", "prod-eu"}
	tests := []struct {
		name       string
		typed      string
		candidates []string
		want       string
	}{
		{"one wrong letter is a typo", "stagin", envs, "staging"},
		{"swapped neighbours are one edit", "pord-us", envs, "prod-us"},
		{"case alone is a typo", "PROD-EU", envs, "prod-eu"},
		{"the first of equally close candidates wins", "prod-xx", envs, "prod-us"},
		{"a short name is not corrected into an unrelated one", "qa", envs, ""},
		{"too many edits is no typo", "production", envs, ""},
		{"the name itself is not suggested", "dev", []string{"dev"}, ""},
		{"no candidates, no suggestion", "dev", nil, ""},
		{"letters beyond ASCII count once each", "störage", []string{"storage"}, "storage"},
		{"a very long hostile name suggests nothing", strings.Repeat("a", 10000), envs, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := suggest.Closest(tc.typed, tc.candidates); got != tc.want {
				t.Errorf("Closest(%.20q): got %q, want %q", tc.typed, got, tc.want)
			}
		})
	}
}

func TestDistanceCountsEditsAndTranspositions(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"equal strings are zero apart", "api", "api", 0},
		{"an insertion is one", "api", "apis", 1},
		{"a deletion is one", "apis", "api", 1},
		{"a substitution is one", "api", "apj", 1},
		{"a transposition is one", "ab", "ba", 1},
		{"from nothing is the length", "", "abc", 3},
		{"runes, not bytes", "é", "e", 1},
		{"long strings are compared whole", strings.Repeat("x", 65), strings.Repeat("x", 64) + "y", 65},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := suggest.Distance(tc.a, tc.b); got != tc.want {
				t.Errorf("Distance: got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestUnknownListsTheKnownNamesAndTheLikelyOne(t *testing.T) {
	many := make([]string, 12)
	for i := range many {
		many[i] = fmt.Sprintf("tenant-%02d", i)
	}
	tests := []struct {
		name  string
		kind  string
		typed string
		known []string
		want  string
	}{
		{"a typo is named after the list", "service", "apj", []string{"api", "web"}, `unknown service "apj"; known: api, web; did you mean "api"?`},
		{"no likely name, only the list", "environment", "qa", []string{"dev", "prod"}, `unknown environment "qa"; known: dev, prod`},
		{"nothing known says so", "stage", "prod", nil, `unknown stage "prod"; known: (none)`},
		{"a long list is cut after ten", "environment", "x", many, `unknown environment "x"; known: tenant-00, tenant-01, tenant-02, tenant-03, tenant-04, tenant-05, tenant-06, tenant-07, tenant-08, tenant-09 and 2 more`},
		{"a hostile name is quoted, not interpreted", "service", "a\"; rm -rf / #\n${x}", []string{"api"}, `unknown service "a\"; rm -rf / #\n${x}"; known: api`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := suggest.Unknown(tc.kind, tc.typed, tc.known); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
