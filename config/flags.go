package config

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/flag"
	"go.yaml.in/yaml/v3"
)

// Feature flags: top-level `flags:` declares them, `environments.NAME.flags` overrides
// their parts. Package flag layers and evaluates them; here they are read, with positions,
// and every value is checked against the flag's type and variants as it stands in each
// environment that overrides it.

var (
	flagKeys     = []string{"type", "variants", "default", "rules", "rollout", "requires"}
	flagOverKeys = []string{"variants", "default", "rules", "rollout", "requires"}
	ruleKeys     = []string{"when", "value"}
	rolloutKeys  = []string{"percent", "value"}
	condOps      = []string{strata.OpIn, strata.OpNotIn, strata.OpStartsWith, strata.OpSemverAtLeast}
)

// flagKeyRE is what flag keys look like: they travel in OFREP's URL paths.
var flagKeyRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$`)

const flagExample = "{type: boolean, default: false, rollout: {percent: 10, value: true}}"

// decodeFlags reads top-level `flags:`.
func (l *loader) decodeFlags(src *source, n *yaml.Node) {
	pairs, _ := l.mapping(src, n, "flags", "flags: {new-checkout: "+flagExample+"}")
	for _, p := range pairs {
		at := src.pos(p.k)
		if len(p.key) > 128 || !flagKeyRE.MatchString(p.key) {
			l.errorf(at, "flag key %s is not valid; use letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 128 characters (e.g. new-checkout)", quoteShort(p.key))
			continue
		}
		if prev := flag.Find(l.p, p.key); prev != nil {
			l.errorf(at, "flag %q is declared twice: here and at %s; rename or remove one", p.key, prev.Pos)
			continue
		}
		f := &strata.Flag{Key: p.key, Pos: at}
		l.decodeFlag(src, f, p.v, true)
		l.p.Flags = append(l.p.Flags, f)
	}
}

// decodeEnvFlags reads `environments.NAME.flags`: overrides of declared flags' parts.
func (l *loader) decodeEnvFlags(src *source, env *strata.Environment, n *yaml.Node) {
	env.Flags = map[string]*strata.Flag{}
	pairs, _ := l.mapping(src, n, "flags of environment "+quote(env.Name), "flags: {new-checkout: {default: true}}")
	for _, p := range pairs {
		f := &strata.Flag{Key: p.key, Pos: src.pos(p.k)}
		l.decodeFlag(src, f, p.v, false)
		env.Flags[p.key] = f
	}
}

// decodeFlag reads one flag's parts; top says it is the declaration (which has a type and
// a default), not an override.
func (l *loader) decodeFlag(src *source, f *strata.Flag, n *yaml.Node, top bool) {
	where := "flag " + quote(f.Key)
	known := flagKeys
	if !top {
		known = flagOverKeys
	}
	pairs, _ := l.mapping(src, n, where, flagExample)
	for _, p := range pairs {
		switch p.key {
		case "type":
			if !top {
				break
			}
			if s, ok := l.scalar(src, p.v, "type of "+where, "type: boolean"); ok {
				f.Type, f.TypePos = s, src.pos(l.deref(src, p.v))
				if !slices.Contains(strata.FlagTypes, s) {
					l.errorf(f.TypePos, "type of %s is %q; want one of %s", where, s, strings.Join(strata.FlagTypes, ", "))
				}
			}
			continue
		case "variants":
			f.VariantsPos = src.pos(p.k)
			f.Variants = map[string]any{}
			vs, _ := l.mapping(src, p.v, "variants of "+where, "variants: {on: true, off: false}")
			for _, v := range vs {
				if x, ok := l.flagValue(src, v.v, "variant "+v.key+" of "+where); ok {
					f.Variants[v.key] = x.V
				}
			}
			continue
		case "default":
			if x, ok := l.flagValue(src, p.v, "default of "+where); ok {
				f.Default = &x
			}
			continue
		case "rules":
			f.RulesPos = src.pos(p.k)
			f.Rules = []strata.FlagRule{}
			items, _ := l.sequence(src, p.v, "rules of "+where, "rules: [{when: {plan: {in: [gold]}}, value: true}]")
			for _, it := range items {
				if r, ok := l.decodeRule(src, it, "a rule of "+where); ok {
					f.Rules = append(f.Rules, r)
				}
			}
			continue
		case "rollout":
			f.Rollout = l.decodeRollout(src, p.k, p.v, "rollout of "+where)
			continue
		case "requires":
			f.RequiresPos = src.pos(p.k)
			f.Requires = map[string]string{}
			rs, _ := l.mapping(src, p.v, "requires of "+where, `requires: {api: ">=1.4.0"}`)
			for _, r := range rs {
				s, ok := l.scalar(src, r.v, "requires "+r.key, `api: ">=1.4.0"`)
				if !ok {
					continue
				}
				if _, err := flag.ParseRequirement(s); err != nil {
					l.errorf(src.pos(l.deref(src, r.v)), "%s of %s: %v", r.key, where, err)
					continue
				}
				f.Requires[r.key] = s
				l.flagRequires = append(l.flagRequires, flagRequire{service: r.key, at: src.pos(r.k), where: where})
			}
			continue
		}
		if p.key == "type" && !top {
			l.errorf(src.pos(p.k), "an environment cannot change the type of %s; remove type here (the declaration in flags: says it)", where)
			continue
		}
		l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, known))
	}
	if top && f.Type == "" {
		l.errorf(f.Pos, "%s has no type; write e.g. type: boolean (one of %s)", where, strings.Join(strata.FlagTypes, ", "))
	}
	if top && f.Default == nil {
		l.errorf(f.Pos, "%s has no default; write e.g. default: false (the value when nothing else applies)", where)
	}
}

// decodeRule reads `{when: {ATTRIBUTE: CONDITION, ...}, value: V}`.
func (l *loader) decodeRule(src *source, n *yaml.Node, where string) (strata.FlagRule, bool) {
	const example = "{when: {plan: {in: [gold]}}, value: true}"
	r := strata.FlagRule{Pos: src.pos(l.deref(src, n))}
	pairs, ok := l.mapping(src, n, where, example)
	if !ok {
		return r, false
	}
	var sawWhen, sawValue bool
	for _, p := range pairs {
		switch p.key {
		case "when":
			sawWhen = true
			conds, _ := l.mapping(src, p.v, "when of "+where, "when: {plan: {in: [gold]}, country: DE}")
			for _, c := range conds {
				if cond, ok := l.decodeCondition(src, c); ok {
					r.When = append(r.When, cond)
				}
			}
		case "value":
			sawValue = true
			if x, ok := l.flagValue(src, p.v, "value of "+where); ok {
				r.Value = x
			}
		default:
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, ruleKeys))
		}
	}
	if !sawWhen || !sawValue {
		l.errorf(r.Pos, "%s needs both when and value; write e.g. %s", where, example)
		return r, false
	}
	return r, r.Value.V != nil
}

// decodeCondition reads `ATTRIBUTE: CONDITION`, the condition a scalar (equals) or one of
// {in: [...]}, {not_in: [...]}, {starts_with: S}, {semver_at_least: V}.
func (l *loader) decodeCondition(src *source, p pair) (strata.Condition, bool) {
	c := strata.Condition{Attribute: p.key, Pos: src.pos(p.k)}
	what := "condition on " + quote(p.key)
	n := l.deref(src, p.v)
	if n == nil {
		return c, false
	}
	if n.Kind != yaml.MappingNode {
		x, ok := l.scalarValue(src, n, what)
		c.Op, c.Values = strata.OpEquals, []any{x}
		return c, ok
	}
	ops, _ := l.mapping(src, n, what, "{in: [gold, platinum]}")
	if len(ops) != 1 {
		l.errorf(src.pos(n), "%s should have one operator, found %d; write e.g. {in: [gold]}, {not_in: [free]}, {starts_with: \"eu-\"} or {semver_at_least: 2.1.0}", what, len(ops))
		return c, false
	}
	op := ops[0]
	c.Op = op.key
	switch op.key {
	case strata.OpIn, strata.OpNotIn:
		items, ok := l.sequence(src, op.v, op.key+" of "+what, op.key+": [gold, platinum]")
		if !ok {
			return c, false
		}
		for _, it := range items {
			x, ok := l.scalarValue(src, it, "an item of "+op.key+" of "+what)
			if !ok {
				return c, false
			}
			c.Values = append(c.Values, x)
		}
	case strata.OpStartsWith:
		s, ok := l.scalar(src, op.v, op.key+" of "+what, `starts_with: "eu-"`)
		if !ok {
			return c, false
		}
		c.Values = []any{s}
	case strata.OpSemverAtLeast:
		s, ok := l.scalar(src, op.v, op.key+" of "+what, "semver_at_least: 2.1.0")
		if !ok {
			return c, false
		}
		if _, err := flag.ParseSemver(s); err != nil {
			l.errorf(src.pos(l.deref(src, op.v)), "semver_at_least of %s: %v", what, err)
			return c, false
		}
		c.Values = []any{s}
	default:
		l.errorf(src.pos(op.k), "%s", unknownKey(op.key, what, condOps))
		return c, false
	}
	return c, true
}

// decodeRollout reads `{percent: N, value: V}`.
func (l *loader) decodeRollout(src *source, k, n *yaml.Node, where string) *strata.Rollout {
	const example = "rollout: {percent: 10, value: true}"
	ro := &strata.Rollout{Pos: src.pos(k)}
	pairs, ok := l.mapping(src, n, where, example)
	if !ok {
		return nil
	}
	var sawPercent bool
	for _, p := range pairs {
		switch p.key {
		case "percent":
			i, ok := l.integer(src, p.v, "percent of "+where, "percent: 10")
			if !ok {
				return nil
			}
			if i < 0 || i > 100 {
				l.errorf(src.pos(l.deref(src, p.v)), "percent of %s is %d; want a whole number from 0 to 100", where, i)
				return nil
			}
			ro.Percent, sawPercent = int(i), true
		case "value":
			x, ok := l.flagValue(src, p.v, "value of "+where)
			if !ok {
				return nil
			}
			ro.Value = x
		default:
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, rolloutKeys))
		}
	}
	if !sawPercent || ro.Value.V == nil {
		l.errorf(ro.Pos, "%s needs both percent and value; write e.g. %s", where, example)
		return nil
	}
	return ro
}

// flagValue reads a flag value: any YAML value but null, made JSON-like (numbers as
// float64, mappings with string keys).
func (l *loader) flagValue(src *source, n *yaml.Node, what string) (strata.FlagValue, bool) {
	n = l.deref(src, n)
	if n == nil {
		return strata.FlagValue{}, false
	}
	at := src.pos(n)
	if isNull(n) {
		l.errorf(at, "%s has no value; write one, such as true, \"gold\", 3 or {color: blue}", what)
		return strata.FlagValue{}, false
	}
	var raw any
	if err := safeDecode(n, &raw); err != nil {
		l.errorf(at, "%s cannot be read (%v); write a plain value, such as true, \"gold\", 3 or {color: blue}", what, err)
		return strata.FlagValue{}, false
	}
	v, err := jsonLike(raw)
	if err != nil {
		l.errorf(at, "%s: %v", what, err)
		return strata.FlagValue{}, false
	}
	return strata.FlagValue{V: v, Pos: at}, true
}

// scalarValue reads a scalar a condition compares with (string, number or boolean).
func (l *loader) scalarValue(src *source, n *yaml.Node, what string) (any, bool) {
	n = l.deref(src, n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		l.errorf(src.pos(n), "%s should be a single value (text, number or boolean), found %s", what, kindName(n))
		return nil, false
	}
	x, ok := l.flagValue(src, n, what)
	return x.V, ok
}

// jsonLike turns a decoded YAML value into what JSON would give: float64 numbers,
// map[string]any mappings.
func jsonLike(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a number JSON can carry; write a finite number", x)
		}
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			y, err := jsonLike(e)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			y, err := jsonLike(e)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("the key %v is not text; object keys are text", k)
			}
			y, err := jsonLike(e)
			if err != nil {
				return nil, err
			}
			out[ks] = y
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %T cannot be a flag value; write text, a number, a boolean, a list or a mapping", v)
}

// flagRequire is a `requires` entry, checked once every service is known.
type flagRequire struct {
	service string
	at      strata.Pos
	where   string
}

// checkFlags runs the checks that need every file read: requirements name services,
// overrides name declared flags, and every value fits its flag's type and variants as the
// flag stands in the declaration and in each environment that overrides it.
func (l *loader) checkFlags() {
	svcs := l.p.ServiceNames()
	for _, r := range l.flagRequires {
		if _, ok := l.svcs[r.service]; !ok {
			l.errorf(r.at, "%s requires the unknown service %q%s; services: %s", r.where, r.service, didYouMean(r.service, svcs), listSome(svcs))
		}
	}
	keys := flag.Keys(l.p)
	seen := map[string]bool{}
	report := func(at strata.Pos, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if k := at.String() + msg; !seen[k] {
			seen[k] = true
			l.errorf(at, "%s", msg)
		}
	}
	for _, f := range l.p.Flags {
		if f.Type == "" || !slices.Contains(strata.FlagTypes, f.Type) {
			continue
		}
		l.checkResolved(flag.Resolve(f, nil), f, report)
	}
	for _, env := range l.p.Environments {
		if len(env.Flags) == 0 {
			continue // most environments override no flag: no sorted copy of nothing each
		}
		for _, key := range slices.Sorted(maps.Keys(env.Flags)) {
			f := flag.Find(l.p, key)
			if f == nil {
				o := env.Flags[key]
				report(o.Pos, "environment %q overrides the unknown flag %q%s; declare it under flags: first (flags: %s)", env.Name, key, didYouMean(key, keys), listSome(keys))
				continue
			}
			if !slices.Contains(strata.FlagTypes, f.Type) {
				continue
			}
			l.checkResolved(flag.Resolve(f, env), f, report)
		}
	}
}

// checkResolved checks the values of a flag as it stands somewhere.
func (l *loader) checkResolved(r *flag.Resolved, f *strata.Flag, report func(strata.Pos, string, ...any)) {
	where := "flag " + quote(r.Key)
	for name, v := range r.Variants {
		if err := flag.CheckType(r.Type, v); err != nil {
			report(posOf(r.Sources[flag.PartVariants]), "variant %s of %s: %v", name, where, err)
		}
	}
	check := func(v any, at string, what string) {
		if err := r.Check(v); err != nil {
			report(posOf(at), "%s of %s: %v", what, where, err)
		}
	}
	if r.Default != nil {
		check(r.Default, r.Sources[flag.PartDefault], "default")
	}
	for _, rule := range r.Rules {
		check(rule.Value.V, rule.Value.Pos.String(), "the value of a rule")
	}
	if r.Rollout != nil {
		check(r.Rollout.Value.V, r.Rollout.Value.Pos.String(), "the rollout value")
	}
}

// posOf reads back a position that Pos.String wrote ("file:line:col").
func posOf(s string) strata.Pos {
	var p strata.Pos
	i := strings.LastIndexByte(s, ':')
	j := strings.LastIndexByte(s[:max(i, 0)], ':')
	if i < 0 || j < 0 {
		return strata.Pos{File: s}
	}
	p.File = s[:j]
	fmt.Sscan(s[j+1:i], &p.Line)
	fmt.Sscan(s[i+1:], &p.Col)
	return p
}
