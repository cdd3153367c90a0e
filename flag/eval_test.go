package flag_test

import (
	"fmt"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/flag"
)

func rule(value any, conds ...strata.Condition) strata.FlagRule {
	return strata.FlagRule{When: conds, Value: strata.FlagValue{V: value}}
}

func cond(attr, op string, values ...any) strata.Condition {
	return strata.Condition{Attribute: attr, Op: op, Values: values}
}

func TestEvaluate(t *testing.T) {
	base := func() *flag.Resolved {
		return &flag.Resolved{Key: "checkout", Type: strata.FlagBoolean, Default: false, Sources: map[string]string{}}
	}
	running := map[string]string{"api": "1.4.2"}
	for _, tc := range []struct {
		name    string
		change  func(r *flag.Resolved)
		ctx     map[string]any
		running map[string]string
		value   any
		variant string
		reason  string
		errCode string
		part    string
	}{
		{"a flag with only a default is static", nil, nil, running, false, "false", flag.ReasonStatic, "", flag.PartDefault},
		{"a rule whose conditions all hold wins", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(true, cond("plan", strata.OpIn, "gold", "platinum"), cond("country", strata.OpEquals, "DE"))}
		}, map[string]any{"plan": "gold", "country": "DE"}, running, true, "true", flag.ReasonTargetingMatch, "", "rules[0]"},
		{"a rule with one failing condition does not match", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(true, cond("plan", strata.OpIn, "gold"), cond("country", strata.OpEquals, "DE"))}
		}, map[string]any{"plan": "gold", "country": "FR"}, running, false, "false", flag.ReasonDefault, "", flag.PartDefault},
		{"the first matching rule wins over later ones", func(r *flag.Resolved) {
			r.Type, r.Default = strata.FlagString, "none"
			r.Rules = []strata.FlagRule{rule("first", cond("region", strata.OpStartsWith, "eu-")), rule("second", cond("region", strata.OpEquals, "eu-west"))}
		}, map[string]any{"region": "eu-west"}, running, "first", "first", flag.ReasonTargetingMatch, "", "rules[0]"},
		{"not_in holds for a value outside the list", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(true, cond("plan", strata.OpNotIn, "free"))}
		}, map[string]any{"plan": "gold"}, running, true, "true", flag.ReasonTargetingMatch, "", "rules[0]"},
		{"a condition on a missing attribute does not hold, not even not_in", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(true, cond("plan", strata.OpNotIn, "free"))}
		}, map[string]any{}, running, false, "false", flag.ReasonDefault, "", flag.PartDefault},
		{"semver_at_least compares versions, not text", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(true, cond("appVersion", strata.OpSemverAtLeast, "2.9.0"))}
		}, map[string]any{"appVersion": "2.10.0"}, running, true, "true", flag.ReasonTargetingMatch, "", "rules[0]"},
		{"a pre-release is below its release for semver_at_least", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(true, cond("appVersion", strata.OpSemverAtLeast, "3.0.0"))}
		}, map[string]any{"appVersion": "3.0.0-rc.1"}, running, false, "false", flag.ReasonDefault, "", flag.PartDefault},
		{"a malformed version in the context matches no semver rule", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(true, cond("appVersion", strata.OpSemverAtLeast, "1.0.0"))}
		}, map[string]any{"appVersion": "latest"}, running, false, "false", flag.ReasonDefault, "", flag.PartDefault},
		{"a number in the file equals the same number sent as text", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(true, cond("tier", strata.OpEquals, float64(3)))}
		}, map[string]any{"tier": "3"}, running, true, "true", flag.ReasonTargetingMatch, "", "rules[0]"},
		{"a rollout without a targeting key is TARGETING_KEY_MISSING with the default", func(r *flag.Resolved) {
			r.Rollout = &strata.Rollout{Percent: 50, Value: strata.FlagValue{V: true}}
		}, map[string]any{}, running, false, "false", flag.ReasonError, flag.ErrTargetingKeyMissing, flag.PartRollout},
		{"a 100 percent rollout gives everyone the value", func(r *flag.Resolved) {
			r.Rollout = &strata.Rollout{Percent: 100, Value: strata.FlagValue{V: true}}
		}, map[string]any{"targetingKey": "anyone"}, running, true, "true", flag.ReasonSplit, "", flag.PartRollout},
		{"a 0 percent rollout gives no one the value", func(r *flag.Resolved) {
			r.Rollout = &strata.Rollout{Percent: 0, Value: strata.FlagValue{V: true}}
		}, map[string]any{"targetingKey": "anyone"}, running, false, "false", flag.ReasonSplit, "", flag.PartRollout},
		{"a rule matches before the rollout buckets", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(true, cond("plan", strata.OpEquals, "gold"))}
			r.Rollout = &strata.Rollout{Percent: 0, Value: strata.FlagValue{V: true}}
		}, map[string]any{"plan": "gold"}, running, true, "true", flag.ReasonTargetingMatch, "", "rules[0]"},
		{"a value set at run time wins over rules", func(r *flag.Resolved) {
			r.Rules = []strata.FlagRule{rule(false, cond("plan", strata.OpEquals, "gold"))}
			r.Set, r.HasSet = true, true
		}, map[string]any{"plan": "gold"}, running, true, "true", flag.ReasonStatic, "", flag.PartSet},
		{"a kill forces the default above a set value", func(r *flag.Resolved) {
			r.Set, r.HasSet, r.Killed, r.KillReason = true, true, true, "errors"
		}, nil, running, false, "false", flag.ReasonDisabled, "", flag.PartKill},
		{"a requirement met lets the flag evaluate", func(r *flag.Resolved) {
			r.Requires, r.Set, r.HasSet = map[string]string{"api": ">=1.4.0"}, true, true
		}, nil, running, true, "true", flag.ReasonStatic, "", flag.PartSet},
		{"an older running version disables the flag", func(r *flag.Resolved) {
			r.Requires, r.Set, r.HasSet = map[string]string{"api": ">=1.5.0"}, true, true
		}, nil, running, false, "false", flag.ReasonDisabled, "", flag.PartRequires},
		{"a service not running at all disables the flag", func(r *flag.Resolved) {
			r.Requires, r.Set, r.HasSet = map[string]string{"api": ">=1.0.0"}, true, true
		}, nil, map[string]string{}, false, "false", flag.ReasonDisabled, "", flag.PartRequires},
		{"variants serve the named variant's value", func(r *flag.Resolved) {
			r.Type, r.Variants, r.Default = strata.FlagString, map[string]any{"blue": "#00f", "red": "#f00"}, "red"
		}, nil, running, "#f00", "red", flag.ReasonStatic, "", flag.PartDefault},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			if tc.change != nil {
				tc.change(r)
			}
			got := flag.Evaluate(r, tc.ctx, tc.running)
			if fmt.Sprint(got.Value) != fmt.Sprint(tc.value) || got.Variant != tc.variant || got.Reason != tc.reason || got.ErrorCode != tc.errCode || got.Part != tc.part {
				t.Errorf("got %+v, want value %v variant %q reason %s error %q part %s", got, tc.value, tc.variant, tc.reason, tc.errCode, tc.part)
			}
		})
	}
}

func TestRolloutIsStickyAndCloseToItsPercent(t *testing.T) {
	r := &flag.Resolved{Key: "new-search", Type: strata.FlagBoolean, Default: false,
		Rollout: &strata.Rollout{Percent: 30, Value: strata.FlagValue{V: true}}}
	on := 0
	const users = 10000
	for i := range users {
		ctx := map[string]any{"targetingKey": fmt.Sprintf("user-%d", i)}
		first := flag.Evaluate(r, ctx, nil)
		if again := flag.Evaluate(r, ctx, nil); again.Value != first.Value {
			t.Fatalf("user-%d got %v then %v", i, first.Value, again.Value)
		}
		if first.Value == true {
			on++
		}
	}
	if on < users*27/100 || on > users*33/100 {
		t.Errorf("%d of %d users are in a 30%% rollout, want about 3000", on, users)
	}
}

func TestBucketMatchesFlagdForKnownKeys(t *testing.T) {
	// flagd buckets murmur3_32(flagKey+targetingKey) as |int32| / MaxInt32 * 100; these
	// were computed by that formula from the published murmur3 vectors: "test" hashes to
	// 0xba6bd213, whose int32 is -1167338989.
	got := flag.Bucket("te", "st")
	want := 1167338989.0 / 2147483647 * 100
	if got != want {
		t.Errorf("Bucket(te, st) = %v, want %v", got, want)
	}
}

func TestSemver(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.2.3", "1.2.3", 0},
		{"v1.2.3", "1.2.3", 0},
		{"1.10.0", "1.9.9", 1},
		{"1.0.0-alpha", "1.0.0", -1},
		{"1.0.0-alpha.2", "1.0.0-alpha.10", -1},
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0+build.5", "1.0.0", 0},
	} {
		a, err := flag.ParseSemver(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := flag.ParseSemver(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Compare(b); got != tc.want {
			t.Errorf("compare %s with %s = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	for _, bad := range []string{"", "1.2", "1.2.x", "01.2.3", "1.2.3-", "1.2.3-a..b"} {
		if _, err := flag.ParseSemver(bad); err == nil {
			t.Errorf("ParseSemver(%q) accepted a malformed version", bad)
		}
	}
}
