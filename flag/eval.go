package flag

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
)

// OpenFeature's reasons and error codes, as OFREP sends them.
const (
	ReasonStatic         = "STATIC"
	ReasonDefault        = "DEFAULT"
	ReasonTargetingMatch = "TARGETING_MATCH"
	ReasonSplit          = "SPLIT"
	ReasonDisabled       = "DISABLED"
	ReasonError          = "ERROR"

	ErrFlagNotFound        = "FLAG_NOT_FOUND"
	ErrParse               = "PARSE_ERROR"
	ErrTargetingKeyMissing = "TARGETING_KEY_MISSING"
	ErrInvalidContext      = "INVALID_CONTEXT"
	ErrGeneral             = "GENERAL"
)

// TargetingKey is the evaluation context's attribute that rollouts bucket on.
const TargetingKey = "targetingKey"

// Result is one evaluation.
type Result struct {
	Key     string
	Value   any
	Variant string
	Reason  string
	// ErrorCode is set when the evaluation failed (Value is then the default).
	ErrorCode string
	// Detail says why, for DISABLED and errors.
	Detail string
	// Part is the part that decided (PartKill, PartRequires, PartSet, "rules[N]",
	// PartRollout, PartDefault).
	Part string
	// Literal says which written value Value is: LiteralDefault, LiteralSet,
	// LiteralRollout, or LiteralRule+N for rule N. With Key, Part, Reason and ErrorCode it
	// determines the whole result within one resolution, so answers can be encoded once.
	Literal int
}

// Which written value a result gives (Result.Literal).
const (
	LiteralDefault = iota
	LiteralSet
	LiteralRollout
	LiteralRule
)

// Evaluate evaluates r for an evaluation context (JSON-like, as OFREP sends it) in an
// environment where running maps each service to the version that runs there.
func Evaluate(r *Resolved, ctx map[string]any, running map[string]string) Result {
	res := Result{Key: r.Key}
	def := func(reason, part, detail string) Result {
		res.Value, res.Variant = r.value(r.Default)
		res.Reason, res.Part, res.Detail = reason, part, detail
		return res
	}
	if r.Killed {
		return def(ReasonDisabled, PartKill, "killed: "+r.KillReason)
	}
	if why := r.unmet(running); why != "" {
		return def(ReasonDisabled, PartRequires, why)
	}
	if r.HasSet {
		res.Value, res.Variant = r.value(r.Set)
		res.Reason, res.Part, res.Literal = ReasonStatic, PartSet, LiteralSet
		return res
	}
	for i, rule := range r.Rules {
		if matches(rule.When, ctx) {
			res.Value, res.Variant = r.value(rule.Value.V)
			res.Reason, res.Part, res.Literal = ReasonTargetingMatch, rulePart(i), LiteralRule+i
			return res
		}
	}
	if ro := r.Rollout; ro != nil {
		tk, _ := ctx[TargetingKey].(string)
		if tk == "" {
			res = def(ReasonError, PartRollout, "flag "+r.Key+" rolls out by percent and needs the evaluation context's targetingKey (a stable id of the user)")
			res.ErrorCode = ErrTargetingKeyMissing
			return res
		}
		if Bucket(r.Key, tk) < float64(ro.Percent) {
			res.Value, res.Variant = r.value(ro.Value.V)
			res.Reason, res.Part, res.Literal = ReasonSplit, PartRollout, LiteralRollout
			return res
		}
		return def(ReasonSplit, PartRollout, "")
	}
	if len(r.Rules) == 0 {
		return def(ReasonStatic, PartDefault, "")
	}
	return def(ReasonDefault, PartDefault, "")
}

// ruleParts names the first rules' parts without building the text on every evaluation.
var ruleParts = func() []string {
	out := make([]string, 16)
	for i := range out {
		out[i] = "rules[" + strconv.Itoa(i) + "]"
	}
	return out
}()

func rulePart(i int) string {
	if i < len(ruleParts) {
		return ruleParts[i]
	}
	return "rules[" + strconv.Itoa(i) + "]"
}

// value turns a value as written into the value served and its variant: a variant's
// value and name, or the value itself named by its text (objects have no name).
func (r *Resolved) value(v any) (any, string) {
	if r.Variants != nil {
		name, _ := v.(string)
		return r.Variants[name], name
	}
	switch x := v.(type) {
	case bool:
		return x, strconv.FormatBool(x)
	case string:
		return x, x
	case float64:
		return x, strconv.FormatFloat(x, 'g', -1, 64)
	}
	return v, ""
}

// unmet says which requirement does not hold in the environment ("" when all do).
func (r *Resolved) unmet(running map[string]string) string {
	services := make([]string, 0, len(r.Requires))
	for s := range r.Requires {
		services = append(services, s)
	}
	sort.Strings(services)
	for _, svc := range services {
		want, err := ParseRequirement(r.Requires[svc])
		if err != nil {
			return fmt.Sprintf("requires %s %s, which is not a valid requirement", svc, r.Requires[svc])
		}
		have, ok := running[svc]
		if !ok {
			return fmt.Sprintf("requires %s %s; %s does not run here", svc, r.Requires[svc], svc)
		}
		v, err := ParseSemver(have)
		if err != nil {
			return fmt.Sprintf("requires %s %s; the running version %q is not a semantic version", svc, r.Requires[svc], have)
		}
		if v.Compare(want) < 0 {
			return fmt.Sprintf("requires %s %s; %s runs here", svc, r.Requires[svc], have)
		}
	}
	return ""
}

// matches reports whether every condition holds for ctx. A condition on an attribute the
// context lacks does not hold.
func matches(when []strata.Condition, ctx map[string]any) bool {
	for _, c := range when {
		v, ok := ctx[c.Attribute]
		if !ok || !holds(c, v) {
			return false
		}
	}
	return true
}

func holds(c strata.Condition, v any) bool {
	switch c.Op {
	case strata.OpEquals:
		return len(c.Values) == 1 && equal(c.Values[0], v)
	case strata.OpIn, strata.OpNotIn:
		in := false
		for _, w := range c.Values {
			if equal(w, v) {
				in = true
				break
			}
		}
		return in == (c.Op == strata.OpIn)
	case strata.OpStartsWith:
		s, ok := v.(string)
		p, _ := c.Values[0].(string)
		return ok && strings.HasPrefix(s, p)
	case strata.OpSemverAtLeast:
		s, ok := v.(string)
		if !ok {
			return false
		}
		have, err := ParseSemver(s)
		if err != nil {
			return false
		}
		want, err := ParseSemver(fmt.Sprint(c.Values[0]))
		return err == nil && have.Compare(want) >= 0
	}
	return false
}

// equal compares a scalar of the file with one of the context. Numbers compare as
// numbers; a number in the file matches the same number sent as text too, since
// attributes often travel as strings.
func equal(want, got any) bool {
	if want == got {
		return true
	}
	if f, ok := want.(float64); ok {
		if s, ok := got.(string); ok {
			g, err := strconv.ParseFloat(s, 64)
			return err == nil && g == f
		}
	}
	return false
}
