package config_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
)

func parse(t *testing.T, yaml string) (*strata.Project, strata.Problems) {
	t.Helper()
	p, probs, err := config.Parse("strata.yaml", []byte(yaml), t.TempDir())
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p, probs
}

// grouped is a valid estate with one blue/green group; its lines are 1-20.
const grouped = `project: shop
environments:
  staging: {}
  blue: {labels: {tier: prod}}
  green: {labels: {tier: prod}}
groups:
  shop-us:
    environments: [blue, green]
    live: blue
    switch: ./switch.sh
    policy: {approvals: 1}
services:
  api:
    deploy: ./deploy.sh
pipeline:
  - stage: staging
    environments: [staging]
  - stage: standby
    environments: {group: shop-us, role: standby}
`

func TestGroupsAreReadWithTheirLiveMemberAndStandbyStage(t *testing.T) {
	p, _ := parse(t, grouped)
	g := p.Group("shop-us")
	if g == nil || strings.Join(g.Environments, ",") != "blue,green" || g.Live != "blue" || g.Switch == nil || g.Switch.Run != "./switch.sh" || g.Policy.ApprovalsNeeded() != 1 {
		t.Fatalf("group %+v", g)
	}
	if p.GroupOf("green") != g || p.GroupOf("staging") != nil {
		t.Fatalf("GroupOf does not find the members' group")
	}
	st := p.Stage("standby")
	if st.Group != "shop-us" || st.Role != "standby" || strings.Join(st.Environments, ",") != "green" {
		t.Fatalf("standby stage %+v, want the group's standby green", st)
	}
}

func TestAGroupWithoutLiveStartsWithItsFirstMember(t *testing.T) {
	p, _ := parse(t, strings.Replace(grouped, "    live: blue\n", "", 1))
	if got := p.Group("shop-us").Live; got != "blue" {
		t.Fatalf("live %q, want blue", got)
	}
}

func TestBadGroupsNameTheirPlace(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		at   string
		want string
	}{
		{"an environment in two groups is an error at its second mention",
			strings.Replace(grouped, "services:", "  shop-eu:\n    environments: [green, staging]\nservices:", 1),
			"strata.yaml:13:20", `environment "green" is in two groups: "shop-us" (at strata.yaml:7:3) and "shop-eu"`},
		{"a member that is not declared suggests one",
			strings.Replace(grouped, "[blue, green]", "[blue, gren]", 1),
			"strata.yaml:8:26", `group "shop-us" names the undeclared environment "gren"; did you mean "green"?`},
		{"live must be a member",
			strings.Replace(grouped, "live: blue", "live: staging", 1),
			"strata.yaml:9:11", `live of group "shop-us" is "staging", which is not a member`},
		{"a group of one has nothing to switch to",
			strings.Replace(grouped, "[blue, green]", "[blue]", 1),
			"strata.yaml:8:19", "has one environment; a group needs two or more"},
		{"an unknown key of a group suggests the right one",
			strings.Replace(grouped, "    live: blue\n", "    lve: blue\n", 1),
			"strata.yaml:9:5", `unknown key "lve"`},
		{"a stage naming an unknown group suggests one",
			strings.Replace(grouped, "{group: shop-us,", "{group: shop-su,", 1),
			"strata.yaml:19:19", `names the unknown group "shop-su"`},
		{"a stage's group role is standby or live",
			strings.Replace(grouped, "role: standby", "role: passive", 1),
			"strata.yaml:19:19", `the role is standby or live`},
		{"a group's policy takes approvals only",
			strings.Replace(grouped, "{approvals: 1}", "{soak: 1h}", 1),
			"strata.yaml:11:5", "takes approvals only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, probs, err := config.Parse("strata.yaml", []byte(c.yaml), t.TempDir())
			if err == nil || p != nil {
				t.Fatalf("loaded without error; want %s: %s", c.at, c.want)
			}
			if got := strata.ErrorCode(err); got != strata.EINVALID {
				t.Errorf("error code %q, want %q", got, strata.EINVALID)
			}
			for _, pr := range probs {
				if pr.Pos.String() == c.at && strings.Contains(pr.Message, c.want) && !pr.Warning {
					return
				}
			}
			t.Fatalf("no problem at %s containing %q; got:\n%v", c.at, c.want, err)
		})
	}
}
