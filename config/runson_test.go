package config_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata/config"
)

const runsOnEstate = `project: shop
environments:
  dev:
    labels: {tier: dev}
  prod-us:
    labels: {tier: prod}
    runs_on: us-agents
  prod-eu:
    extends: prod-us
  prod-ap:
    extends: prod-us
    runs_on: ap-agents
services:
  api:
    deploy: ./deploy.sh
pipeline:
  - stage: dev
    environments: [dev]
`

func TestRunsOnIsInheritedThroughExtends(t *testing.T) {
	p, _, err := config.Parse("strata.yaml", []byte(runsOnEstate), t.TempDir())
	must(t, err)
	cases := []struct {
		name, env, pool, at string
	}{
		{"an environment without runs_on runs locally", "dev", "", ""},
		{"an environment's own runs_on names its pool", "prod-us", "us-agents", "strata.yaml:7:14"},
		{"a child inherits its parent's pool and where it was written", "prod-eu", "us-agents", "strata.yaml:7:14"},
		{"a child's own runs_on wins over its parent's", "prod-ap", "ap-agents", "strata.yaml:12:14"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := p.Environment(c.env)
			if e.RunsOn != c.pool || e.RunsOnPos.String() != c.at {
				t.Errorf("%s runs_on %q at %q, want %q at %q", c.env, e.RunsOn, e.RunsOnPos, c.pool, c.at)
			}
		})
	}
}

func TestABadPoolNameSaysWhereAndWhatIsRight(t *testing.T) {
	cases := []struct {
		name, value, want string
	}{
		{"upper case is refused", "EU", `pool name "EU" is not valid`},
		{"a shell word is refused, never run", `"$(touch pwned)"`, `pool name "$(touch pwned)" is not valid`},
		{"a list is not a pool", "[a, b]", "runs_on should be a single value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := strings.Replace(runsOnEstate, "runs_on: us-agents", "runs_on: "+c.value, 1)
			_, probs, err := config.Parse("strata.yaml", []byte(y), t.TempDir())
			if err == nil {
				t.Fatalf("got no error; want one at strata.yaml:7:14 saying %s", c.want)
			}
			for _, pr := range probs {
				if pr.Pos.String() == "strata.yaml:7:14" && strings.Contains(pr.Message, c.want) {
					return
				}
			}
			t.Errorf("no problem at strata.yaml:7:14 containing %q; got:\n%s", c.want, err)
		})
	}
}
