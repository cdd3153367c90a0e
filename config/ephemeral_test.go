package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/layer"
)

const ephemeralEstate = `project: shop
defaults:
  config: {LOG_LEVEL: info}
environments:
  staging:
    labels: {tier: staging, region: us-east}
    config: {LOG_LEVEL: debug}
    policy: {soak: 10m}
  prod-us:
    labels: {tier: prod}
  prod-eu:
    extends: prod-us
    labels: {region: eu-west}
    policy: {approvals: 1}
services:
  api:
    deploy: ./deploy.sh
    config:
      PORT: {type: integer, default: 8080}
      LOG_LEVEL: {type: string}
      WHERE: {type: string, default: "${env.name} in ${env.labels.region}"}
    overrides:
      prod-us: {PORT: 9000}
pipeline:
  - stage: staging
    environments: [staging]
  - stage: prod
    environments: {tier: prod}
`

func parseEphemeralEstate(t *testing.T) *strata.Project {
	t.Helper()
	p, _, err := config.Parse("strata.yaml", []byte(ephemeralEstate), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAShortLivedEnvironmentIsMadeLikeItsParent(t *testing.T) {
	p := parseEphemeralEstate(t)
	exp := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := config.AddEphemeral(p, &strata.EphemeralEnv{Name: "pr-7", Like: "prod-eu", Labels: map[string]string{"region": "sandbox", "pr": "7"}, Expires: exp}); err != nil {
		t.Fatal(err)
	}
	e := p.Environment("pr-7")
	if e == nil {
		t.Fatal("pr-7 was not added")
	}
	t.Run("labels are the parent's with its own laid over them", func(t *testing.T) {
		want := map[string]string{"tier": "prod", "region": "sandbox", "pr": "7"}
		if len(e.Labels) != len(want) {
			t.Errorf("labels %v, want %v", e.Labels, want)
		}
		for k, v := range want {
			if e.Labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, e.Labels[k], v)
			}
		}
		if p.Environment("prod-eu").Labels["region"] != "eu-west" {
			t.Errorf("the parent's labels changed: %v", p.Environment("prod-eu").Labels)
		}
	})
	t.Run("policy, parent, expiry and the chain are the parent's plus itself, but for approvals", func(t *testing.T) {
		if e.Policy.ApprovalsNeeded() != 0 || e.Extends != "prod-eu" || !e.Ephemeral || !e.Expires.Equal(exp) {
			t.Errorf("got policy %+v, extends %q, ephemeral %v, expires %v", e.Policy, e.Extends, e.Ephemeral, e.Expires)
		}
		var names []string
		for _, c := range e.Chain {
			names = append(names, c.Name)
		}
		if got := strings.Join(names, " "); got != "prod-us prod-eu pr-7" {
			t.Errorf("chain %q, want prod-us prod-eu pr-7", got)
		}
	})
	t.Run("it joins no stage", func(t *testing.T) {
		if got := p.StagesOf("pr-7"); len(got) != 0 {
			t.Errorf("in stages %v, want none", got)
		}
	})
	t.Run("config and service overrides are inherited as through extends", func(t *testing.T) {
		rs, err := layer.Resolve(p, "api", "pr-7", nil)
		if err != nil {
			t.Fatal(err)
		}
		if rs.Values["PORT"] != int64(9000) || rs.Values["LOG_LEVEL"] != "info" || rs.Values["WHERE"] != "pr-7 in sandbox" {
			t.Errorf("resolved %v, want PORT 9000 (prod-us override), LOG_LEVEL info, WHERE \"pr-7 in sandbox\"", rs.Values)
		}
	})
}

func TestAShortLivedEnvironmentInheritsTheConfigOfItsParent(t *testing.T) {
	p := parseEphemeralEstate(t)
	if err := config.AddEphemeral(p, &strata.EphemeralEnv{Name: "try", Like: "staging"}); err != nil {
		t.Fatal(err)
	}
	rs, err := layer.Resolve(p, "api", "try", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Values["LOG_LEVEL"] != "debug" || rs.Values["PORT"] != int64(8080) {
		t.Errorf("resolved %v, want staging's LOG_LEVEL debug and the default PORT", rs.Values)
	}
	if got := p.Environment("try").Policy.SoakTime(); got != 10*time.Minute {
		t.Errorf("soak %s, want staging's 10m", got)
	}
}

func TestBadShortLivedEnvironmentsAreRefused(t *testing.T) {
	tests := []struct {
		name string
		env  strata.EphemeralEnv
		code string
		want string
	}{
		{"a name against the rule says the rule", strata.EphemeralEnv{Name: "PR_1!", Like: "staging"}, strata.EINVALID, "names are lower-case letters"},
		{"a declared name is a conflict naming where it is declared", strata.EphemeralEnv{Name: "prod-us", Like: "staging"}, strata.ECONFLICT, "is declared in strata.yaml:"},
		{"an unknown parent lists the declared environments", strata.EphemeralEnv{Name: "x", Like: "stagin"}, strata.ENOTFOUND, `did you mean "staging"?; a short-lived environment is made like a declared one: staging, prod-us, prod-eu`},
		{"a reserved label key is refused", strata.EphemeralEnv{Name: "x", Like: "staging", Labels: map[string]string{"name": "y"}}, strata.EINVALID, `label "name" is reserved`},
		{"a bad label key is refused", strata.EphemeralEnv{Name: "x", Like: "staging", Labels: map[string]string{"a b": "y"}}, strata.EINVALID, `label key "a b" is not valid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseEphemeralEstate(t)
			n := len(p.Environments)
			err := config.AddEphemeral(p, &tt.env)
			if strata.ErrorCode(err) != tt.code || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v (%s), want %s containing %q", err, strata.ErrorCode(err), tt.code, tt.want)
			}
			if len(p.Environments) != n {
				t.Errorf("a refused environment was added")
			}
		})
	}
	t.Run("a short-lived environment cannot be made like another short-lived one", func(t *testing.T) {
		p := parseEphemeralEstate(t)
		if err := config.AddEphemeral(p, &strata.EphemeralEnv{Name: "a", Like: "staging"}); err != nil {
			t.Fatal(err)
		}
		err := config.AddEphemeral(p, &strata.EphemeralEnv{Name: "b", Like: "a"})
		if strata.ErrorCode(err) != strata.ENOTFOUND || !strings.Contains(err.Error(), "a short-lived environment") {
			t.Errorf("got %v, want ENOTFOUND saying it is short-lived", err)
		}
		err = config.AddEphemeral(p, &strata.EphemeralEnv{Name: "a", Like: "staging"})
		if strata.ErrorCode(err) != strata.ECONFLICT {
			t.Errorf("adding a twice: got %v, want ECONFLICT", err)
		}
	})
}

func TestAShortLivedEnvironmentKeepsItsParentsApprovalsOnlyWhenAsked(t *testing.T) {
	for _, tt := range []struct {
		name    string
		inherit bool
		want    int
	}{
		{"made in no stage it needs no approvals", false, 0},
		{"with --policy inherit it needs its parent's", true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := parseEphemeralEstate(t)
			if err := config.AddEphemeral(p, &strata.EphemeralEnv{Name: "pr-8", Like: "prod-eu", InheritPolicy: tt.inherit}); err != nil {
				t.Fatal(err)
			}
			if got := p.Environment("pr-8").Policy.ApprovalsNeeded(); got != tt.want {
				t.Errorf("needs %d approvals, want %d", got, tt.want)
			}
		})
	}
}

func TestSetValuesAreAShortLivedEnvironmentsOwnConfig(t *testing.T) {
	p := parseEphemeralEstate(t)
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	if err := config.AddEphemeral(p, &strata.EphemeralEnv{Name: "pr-9", Like: "prod-eu", Set: map[string]string{"PORT": "9101"}, CreatedBy: "alice", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	v := p.Environment("pr-9").Config["PORT"]
	if v.V != "9101" || v.Pos.String() != "--set by alice at 2026-12-03T10:00:00Z" {
		t.Errorf("PORT = %+v (%s), want 9101 set by alice", v, v.Pos)
	}
}
