package strata_test

import (
	"slices"
	"testing"

	"github.com/strata-dev/strata"
)

func TestEnvironmentFindsByNameAfterTheListChanges(t *testing.T) {
	p := &strata.Project{}
	for _, n := range []string{"dev", "staging", "prod"} {
		p.Environments = append(p.Environments, &strata.Environment{Name: n})
	}
	p.Index()
	copied := *p
	copied.Environments = slices.Clone(p.Environments)
	p.Environments = append(p.Environments, &strata.Environment{Name: "pr-1"})
	p.Environments = slices.DeleteFunc(p.Environments, func(e *strata.Environment) bool { return e.Name == "dev" })
	for _, tc := range []struct {
		p    *strata.Project
		name string
		want bool
	}{
		{p, "staging", true}, {p, "prod", true}, {p, "pr-1", true}, {p, "dev", false}, {p, "nope", false},
		{&copied, "dev", true}, {&copied, "prod", true}, {&copied, "pr-1", false},
		{p, "prod", true}, {&copied, "staging", true},
	} {
		got := tc.p.Environment(tc.name)
		if (got != nil) != tc.want || (got != nil && got.Name != tc.name) {
			t.Errorf("Environment(%q) = %v, want found %v", tc.name, got, tc.want)
		}
	}
}
