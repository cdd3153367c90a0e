package strata_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

func TestPermitsFollowsTheRoleTable(t *testing.T) {
	want := map[string]string{ // role -> actions it may take, in order read deploy approve admin
		strata.RoleViewer:   "read",
		strata.RoleDeployer: "read deploy",
		strata.RoleApprover: "read approve",
		strata.RoleAdmin:    "read deploy approve admin",
		"owner":             "",
		"":                  "",
	}
	for role, actions := range want {
		var got []string
		for _, act := range []string{strata.ActRead, strata.ActDeploy, strata.ActApprove, strata.ActAdmin, "launch"} {
			if strata.Permits(role, act) {
				got = append(got, act)
			}
		}
		if strings.Join(got, " ") != actions {
			t.Errorf("role %q permits %q, want %q", role, strings.Join(got, " "), actions)
		}
	}
}

func TestValidRoleKnowsEveryRoleAndNothingElse(t *testing.T) {
	for _, r := range strata.Roles {
		if !strata.ValidRole(r) {
			t.Errorf("ValidRole(%q) = false", r)
		}
	}
	for _, r := range []string{"", "Admin", "root", "viewer "} {
		if strata.ValidRole(r) {
			t.Errorf("ValidRole(%q) = true", r)
		}
	}
}

func env(name string, labels map[string]string) *strata.Environment {
	return &strata.Environment{Name: name, Labels: labels}
}

func TestCoversMatchesAnySelector(t *testing.T) {
	prodUS := env("prod-us", map[string]string{"tier": "prod", "region": "us-east"})
	prodEU := env("prod-eu", map[string]string{"tier": "prod", "region": "eu-west", "residency": "eu"})
	staging := env("staging", map[string]string{"tier": "staging"})
	tests := []struct {
		name string
		envs []map[string]string
		env  *strata.Environment
		want bool
	}{
		{"a token without selectors covers every environment", nil, prodEU, true},
		{"a label selector covers an environment with that label", []map[string]string{{"tier": "prod"}}, prodUS, true},
		{"a label selector does not cover an environment without it", []map[string]string{{"tier": "prod"}}, staging, false},
		{"every pair of a selector must match", []map[string]string{{"tier": "prod", "region": "eu-west"}}, prodUS, false},
		{"any one selector may match", []map[string]string{{"region": "eu-west"}, {"name": "staging"}}, staging, true},
		{"name selects by the environment's name", []map[string]string{{"name": "prod-us"}}, prodUS, true},
		{"name is not read from the labels", []map[string]string{{"name": "prod-us"}}, env("x", map[string]string{"name": "prod-us"}), false},
		{"a missing environment is never covered", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := &strata.Token{Name: "ci", Role: strata.RoleDeployer, Envs: tt.envs}
			if got := tok.Covers(tt.env); got != tt.want {
				t.Errorf("Covers = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAllowsNeedsTheRoleAndEveryEnvironment(t *testing.T) {
	prod := env("prod-us", map[string]string{"tier": "prod"})
	dev := env("dev", map[string]string{"tier": "dev"})
	scoped := &strata.Token{Name: "dev-bot", Role: strata.RoleDeployer, Envs: []map[string]string{{"tier": "dev"}}}
	revoked := &strata.Token{Name: "old", Role: strata.RoleAdmin, RevokedAt: time.Now()}
	tests := []struct {
		name   string
		tok    *strata.Token
		action string
		envs   []*strata.Environment
		want   bool
	}{
		{"a deployer may deploy to a covered environment", scoped, strata.ActDeploy, []*strata.Environment{dev}, true},
		{"a deployer may not deploy where its selectors do not reach", scoped, strata.ActDeploy, []*strata.Environment{prod}, false},
		{"one uncovered environment of several denies the lot", scoped, strata.ActDeploy, []*strata.Environment{dev, prod}, false},
		{"an action without environments needs only the role", scoped, strata.ActDeploy, nil, true},
		{"a deployer may not approve", scoped, strata.ActApprove, []*strata.Environment{dev}, false},
		{"a revoked admin may do nothing", revoked, strata.ActRead, nil, false},
		{"no token may do nothing", nil, strata.ActRead, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tok.Allows(tt.action, tt.envs...); got != tt.want {
				t.Errorf("Allows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseSelectorReadsPairs(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"tier=prod", "tier=prod"},
		{"tier=prod,region=eu-west", "region=eu-west,tier=prod"},
		{" tier = prod , region=eu-west ", "region=eu-west,tier=prod"},
		{"name=staging", "name=staging"},
		{"tier=prod,tier=prod", "tier=prod"},
	}
	for _, tt := range tests {
		sel, err := strata.ParseSelector(tt.in)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", tt.in, err)
			continue
		}
		if got := strata.FormatSelector(sel); got != tt.want {
			t.Errorf("ParseSelector(%q) formats as %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseSelectorRejectsBadSelectorsWithAnExample(t *testing.T) {
	tests := []struct{ name, in, mentions string }{
		{"an empty selector", "", "empty environment selector"},
		{"a pair without '='", "prod", `"prod" has no '='`},
		{"a pair without a value", "tier=", "needs both a key and a value"},
		{"a pair without a key", "=prod", "needs both a key and a value"},
		{"a trailing comma", "tier=prod,", "empty pair"},
		{"a second '='", "tier=prod=eu", "second '='"},
		{"a space inside a value", "tier=pr od", "space"},
		{"a newline inside a key", "ti\ner=prod", "space"},
		{"a right-to-left override inside a value", "tier=\u202Edorp", "not printable"},
		{"an escape inside a value", "tier=prod\x1b[2J", "not printable"},
		{"bytes that are not UTF-8", "tier=pr\xffod", "not printable"},
		{"one key with two values", "tier=prod,tier=dev", "both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := strata.ParseSelector(tt.in)
			if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), tt.mentions) {
				t.Fatalf("ParseSelector(%q) = %v; want an invalid error mentioning %q", tt.in, err, tt.mentions)
			}
			if tt.name != "one key with two values" && !strings.Contains(err.Error(), "e.g. tier=prod") {
				t.Errorf("error %q gives no example", err)
			}
		})
	}
}

func TestNewTokenSecretIsRandomPrefixedAndHashed(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		secret, hash := strata.NewTokenSecret()
		if !strings.HasPrefix(secret, "strata_") || len(secret) != len("strata_")+52 {
			t.Fatalf("secret %q: want strata_ and 52 base32 characters", secret)
		}
		if strings.ToLower(secret) != secret {
			t.Errorf("secret %q is not lowercase", secret)
		}
		if hash != strata.HashToken(secret) || len(hash) != 64 || strings.Contains(hash, secret) {
			t.Fatalf("hash %q is not the hex sha256 of %q", hash, secret)
		}
		if seen[secret] {
			t.Fatalf("secret %q came twice", secret)
		}
		seen[secret] = true
	}
}

func TestHashTokenIsTheHexSHA256(t *testing.T) {
	// sha256("abc"), as every reference lists it.
	if got, want := strata.HashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashToken(abc) = %s, want %s", got, want)
	}
}

func TestATokensJSONNeverHoldsItsHash(t *testing.T) {
	tok := &strata.Token{Name: "ci", Role: strata.RoleViewer, Hash: strata.HashToken("strata_secret"), CreatedBy: "alice"}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), tok.Hash) || strings.Contains(string(b), "hash") || strings.Contains(string(b), "revoked_at") {
		t.Errorf("JSON %s holds the hash or a zero revocation", b)
	}
}

func TestValidTokenName(t *testing.T) {
	for name, want := range map[string]bool{
		"ci": true, "alice@example.com": true, "deploy-bot_2": true, "a.b": true,
		"": false, "-x": false, "has space": false, "semi;colon": false, strings.Repeat("a", 65): false,
	} {
		if got := strata.ValidTokenName(name); got != want {
			t.Errorf("ValidTokenName(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzParseSelector checks that no input panics and that every selector it accepts reads
// back the same after FormatSelector.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"tier=prod", "tier=prod,region=eu-west", "name=a", "a=b,,c=d", "=", ",", "a==b", " k = v "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := strata.ParseSelector(s)
		if err != nil {
			if strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("ParseSelector(%q): code %q, want invalid", s, strata.ErrorCode(err))
			}
			return
		}
		again, err := strata.ParseSelector(strata.FormatSelector(sel))
		if err != nil || strata.FormatSelector(again) != strata.FormatSelector(sel) || len(again) != len(sel) {
			t.Fatalf("ParseSelector(%q) = %v does not read back: %v, %v", s, sel, again, err)
		}
	})
}
