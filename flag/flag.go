// Package flag resolves feature flags and evaluates them: pure functions of the project,
// the runtime changes a store holds, what runs in the environment and the evaluation
// context. A flag is declared in strata.yaml and overridden, part by part, by environments
// down their extends chain, each part remembering where it came from so that `flag
// explain` can say; runtime changes (set, rollout, kill) sit above the files.
//
// Evaluation, highest first: a kill forces the default (DISABLED); so does a `requires`
// whose version is not running in the environment (DISABLED, with a detail); a value set at
// run time (STATIC); the first rule whose conditions all hold (TARGETING_MATCH); the rollout,
// which buckets the targeting key as flagd's fractional operation does (SPLIT); the default
// (STATIC when the flag has no rules or rollout, DEFAULT otherwise).
package flag

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata"
)

// Parts of a flag, as explain names them.
const (
	PartType     = "type"
	PartVariants = "variants"
	PartDefault  = "default"
	PartRules    = "rules"
	PartRollout  = "rollout"
	PartRequires = "requires"
	PartSet      = "set"
	PartKill     = "kill"
)

// Parts lists the parts in the order explain shows them.
var Parts = []string{PartType, PartVariants, PartDefault, PartRules, PartRollout, PartRequires, PartSet, PartKill}

// Resolved is one flag as it stands in one environment: the declaration with every
// override of the environment's extends chain applied, then the runtime changes.
type Resolved struct {
	Key      string
	Type     string
	Variants map[string]any
	Default  any
	Rules    []strata.FlagRule
	Rollout  *strata.Rollout
	Requires map[string]string
	// Set is the value given at run time (HasSet says there is one).
	Set    any
	HasSet bool
	// Killed forces the default; KillReason says why.
	Killed     bool
	KillReason string
	// Sources says where each part that is set came from: "file:line:col", or "runtime
	// (ACTOR, TIME)" for what was changed at run time.
	Sources map[string]string
	// ChangedBy and ChangedAt name the newest runtime change, if any.
	ChangedBy string
	ChangedAt time.Time
}

// Find returns the flag p declares under key, or nil.
func Find(p *strata.Project, key string) *strata.Flag {
	for _, f := range p.Flags {
		if f.Key == key {
			return f
		}
	}
	return nil
}

// Keys returns the keys of p's flags, in declaration order.
func Keys(p *strata.Project) []string {
	out := make([]string, 0, len(p.Flags))
	for _, f := range p.Flags {
		out = append(out, f.Key)
	}
	return out
}

// Resolve layers flag f through env's extends chain, oldest ancestor first, each
// override replacing the parts it sets. A nil env gives the declaration alone.
func Resolve(f *strata.Flag, env *strata.Environment) *Resolved {
	r := &Resolved{Key: f.Key, Type: f.Type, Sources: map[string]string{PartType: f.TypePos.String()}}
	r.apply(f)
	if env != nil {
		chain := env.Chain
		if len(chain) == 0 {
			chain = []*strata.Environment{env}
		}
		for _, e := range chain {
			if o := e.Flags[f.Key]; o != nil {
				r.apply(o)
			}
		}
	}
	return r
}

// apply lays the parts o sets over r.
func (r *Resolved) apply(o *strata.Flag) {
	if o.Variants != nil {
		r.Variants, r.Sources[PartVariants] = o.Variants, o.VariantsPos.String()
	}
	if o.Default != nil {
		r.Default, r.Sources[PartDefault] = o.Default.V, o.Default.Pos.String()
	}
	if o.Rules != nil {
		r.Rules, r.Sources[PartRules] = o.Rules, o.RulesPos.String()
	}
	if o.Rollout != nil {
		ro := *o.Rollout
		r.Rollout, r.Sources[PartRollout] = &ro, o.Rollout.Pos.String()
	}
	if o.Requires != nil {
		r.Requires, r.Sources[PartRequires] = o.Requires, o.RequiresPos.String()
	}
}

// WithState returns r with the runtime state st applied (r itself when st is nil).
// A stored value that no longer fits the flag (the file changed its type since) is
// ignored: the files win over a stale runtime value.
func (r *Resolved) WithState(st *strata.FlagState) *Resolved {
	if st == nil {
		return r
	}
	out := *r
	out.Sources = maps.Clone(r.Sources)
	src := fmt.Sprintf("runtime (%s, %s)", st.UpdatedBy, st.UpdatedAt.UTC().Format(time.RFC3339))
	out.ChangedBy, out.ChangedAt = st.UpdatedBy, st.UpdatedAt
	if len(st.Value) > 0 {
		if v, err := DecodeValue(st.Value); err == nil && r.Check(v) == nil {
			out.Set, out.HasSet, out.Sources[PartSet] = v, true, src
		}
	}
	if st.Percent != nil && r.Rollout != nil {
		ro := *r.Rollout
		ro.Percent = *st.Percent
		out.Rollout, out.Sources[PartRollout] = &ro, src+" over "+r.Sources[PartRollout]
	} else if st.Percent != nil && r.Type == strata.FlagBoolean && r.Variants == nil {
		// A boolean flag with no rollout declared rolls out true.
		out.Rollout, out.Sources[PartRollout] = &strata.Rollout{Percent: *st.Percent, Value: strata.FlagValue{V: true}}, src
	}
	if st.Killed {
		out.Killed, out.KillReason, out.Sources[PartKill] = true, st.KillReason, src
	}
	return &out
}

// DecodeValue reads a JSON value as flags hold them (numbers as float64).
func DecodeValue(raw json.RawMessage) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// Check says whether v may be a value of r (given as written: a variant's name when r
// has variants), and what would be right when not.
func (r *Resolved) Check(v any) error {
	return CheckValue(r.Type, r.Variants, v)
}

// CheckValue says whether v may be written as a value of a flag of type typ with variants
// (a variant's name when there are variants), and what would be right when not.
func CheckValue(typ string, variants map[string]any, v any) error {
	if variants != nil {
		name, ok := v.(string)
		if _, known := variants[name]; !ok || !known {
			return fmt.Errorf("%s is not one of the flag's variants; want one of %s", Show(v), strings.Join(slices.Sorted(maps.Keys(variants)), ", "))
		}
		return nil
	}
	return CheckType(typ, v)
}

// CheckType says whether v is a value of type typ.
func CheckType(typ string, v any) error {
	ok := false
	switch typ {
	case strata.FlagBoolean:
		_, ok = v.(bool)
	case strata.FlagString:
		_, ok = v.(string)
	case strata.FlagNumber:
		_, ok = v.(float64)
	case strata.FlagObject:
		_, ok = v.(map[string]any)
	}
	if !ok {
		return fmt.Errorf("%s is not a %s; want %s", Show(v), typ, typeExample[typ])
	}
	return nil
}

var typeExample = map[string]string{
	strata.FlagBoolean: "true or false",
	strata.FlagString:  "text such as \"gold\"",
	strata.FlagNumber:  "a number such as 3 or 0.5",
	strata.FlagObject:  "a mapping such as {color: blue}",
}

// Show writes a value for a message, cut short when long.
func Show(v any) string {
	// Shown to people, not put in HTML: ">=1.2.0" stays as written.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// ParseValue reads the text of `flag set FLAG VALUE` as a value of r: true/false, a
// number, text (a variant's name when r has variants), or JSON for an object.
func (r *Resolved) ParseValue(s string) (any, error) {
	var v any
	switch {
	case r.Variants != nil || r.Type == strata.FlagString:
		v = s
	case r.Type == strata.FlagBoolean:
		b, err := strconv.ParseBool(s)
		if err != nil || (s != "true" && s != "false") {
			return nil, fmt.Errorf("%q is not a boolean; want true or false", s)
		}
		v = b
	case r.Type == strata.FlagNumber:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a number; want e.g. 3 or 0.5", s)
		}
		v = f
	case r.Type == strata.FlagObject:
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
			return nil, fmt.Errorf("%q is not a JSON object; want e.g. '{\"color\": \"blue\"}'", s)
		}
		v = m
	}
	if err := r.Check(v); err != nil {
		return nil, err
	}
	return v, nil
}
