package config_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/flag"
)

func TestFlagProblemsNameTheirPlace(t *testing.T) {
	const good = `project: shop
environments:
  dev: {labels: {tier: dev}}
  prod: {extends: dev}
services:
  api: {deploy: ./deploy.sh}
flags:
`
	// good's lines are 1-7; a case's flags start on line 8.
	for _, tc := range []struct {
		name, yaml, at, want string
	}{
		{"a flag without a type says which types there are", good + "  f: {default: true}\n", "strata.yaml:8:3", "has no type; write e.g. type: boolean"},
		{"an unknown type lists the right ones", good + "  f: {type: bool, default: true}\n", "strata.yaml:8:13", `type of flag "f" is "bool"; want one of boolean, string, number, object`},
		{"a default of the wrong type says what would be right", good + "  f: {type: boolean, default: yes please}\n", "strata.yaml:8:31", `default of flag "f": "yes please" is not a boolean; want true or false`},
		{"a percent above 100 is refused", good + "  f: {type: boolean, default: false, rollout: {percent: 120, value: true}}\n", "strata.yaml:8:57", "percent of rollout of flag \"f\" is 120; want a whole number from 0 to 100"},
		{"a malformed semver in a rule names it", good + "  f:\n    type: boolean\n    default: false\n    rules: [{when: {app: {semver_at_least: 1.x}}, value: true}]\n", "strata.yaml:11:44", `"1.x" is not a semantic version`},
		{"an unknown operator suggests the right one", good + "  f:\n    type: boolean\n    default: false\n    rules: [{when: {plan: {inn: [gold]}}, value: true}]\n", "strata.yaml:11:28", `did you mean "in"?`},
		{"a variant name that is not declared lists the variants", good + "  f: {type: string, variants: {a: x, b: y}, default: c}\n", "strata.yaml:8:54", "not one of the flag's variants; want one of a, b"},
		{"requires names a known service", good + "  f: {type: boolean, default: false, requires: {web: \">=1.0.0\"}}\n", "strata.yaml:8:49", `requires the unknown service "web"`},
		{"requires needs >=", good + "  f: {type: boolean, default: false, requires: {api: \"1.0.0\"}}\n", "strata.yaml:8:54", `should be ">=VERSION"`},
		{"an environment may not override an undeclared flag", strings.Replace(good, "prod: {extends: dev}", "prod: {extends: dev, flags: {nope: {default: true}}}", 1) + "  f: {type: boolean, default: false}\n", "strata.yaml:4:32", `overrides the unknown flag "nope"`},
		{"an override of the wrong type names the override's line", strings.Replace(good, "prod: {extends: dev}", "prod: {extends: dev, flags: {f: {default: 3}}}", 1) + "  f: {type: boolean, default: false}\n", "strata.yaml:4:45", `default of flag "f": 3 is not a boolean`},
		{"an environment cannot change a flag's type", strings.Replace(good, "prod: {extends: dev}", "prod: {extends: dev, flags: {f: {type: string}}}", 1) + "  f: {type: boolean, default: false}\n", "strata.yaml:4:36", "cannot change the type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs, err := config.Parse("strata.yaml", []byte(tc.yaml), t.TempDir())
			if err == nil {
				t.Fatalf("no error; want %q at %s", tc.want, tc.at)
			}
			for _, p := range probs {
				if !p.Warning && p.Pos.String() == tc.at && strings.Contains(p.Message, tc.want) {
					return
				}
			}
			t.Errorf("problems:\n%v\nwant %q at %s", err, tc.want, tc.at)
		})
	}
}

func TestFlagsLayerThroughExtendsWithTheirSources(t *testing.T) {
	y := `project: shop
environments:
  prod-us:
    flags:
      checkout: {default: true}
  prod-eu:
    extends: prod-us
    flags:
      checkout: {rollout: {percent: 20, value: false}}
services:
  api: {deploy: ./deploy.sh}
flags:
  checkout:
    type: boolean
    default: false
    rules: [{when: {plan: gold}, value: true}]
`
	p, _, err := config.Parse("strata.yaml", []byte(y), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := flag.Resolve(flag.Find(p, "checkout"), p.Environment("prod-eu"))
	for part, want := range map[string]string{
		flag.PartType:    "strata.yaml:14:11",
		flag.PartDefault: "strata.yaml:5:27",
		flag.PartRules:   "strata.yaml:16:5",
		flag.PartRollout: "strata.yaml:9:18",
	} {
		if got := r.Sources[part]; got != want {
			t.Errorf("%s comes from %q, want %q", part, got, want)
		}
	}
	if r.Default != true || r.Rollout == nil || r.Rollout.Percent != 20 || len(r.Rules) != 1 {
		t.Errorf("resolved %+v: want prod-us's default, prod-eu's rollout and the declaration's rule", r)
	}
}
