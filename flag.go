package strata

import (
	"context"
	"encoding/json"
	"time"
)

// Flag is a feature flag as strata.yaml declares it (top-level `flags:`), or an
// environment's override of one (`environments.NAME.flags.KEY`), in which a part that is not
// set (nil) is inherited. Values are what YAML held, made JSON-like: bool, string, float64,
// []any or map[string]any. When Variants are declared, Default, a rule's Value and
// Rollout.Value name a variant; otherwise they are the value itself.
type Flag struct {
	Key string
	Pos Pos
	// Type is FlagBoolean, FlagString, FlagNumber or FlagObject ("" in an override).
	Type    string
	TypePos Pos
	// Variants maps a variant's name to its value; nil when not set.
	Variants    map[string]any
	VariantsPos Pos
	Default     *FlagValue
	// Rules are tried in order, the first whose conditions all hold wins. Nil when not set;
	// an empty, non-nil list is set to none.
	Rules    []FlagRule
	RulesPos Pos
	Rollout  *Rollout
	// Requires maps a service to the version constraint (">=1.4.0") that must be running in
	// the environment for the flag to be on; nil when not set.
	Requires    map[string]string
	RequiresPos Pos
}

// Flag types.
const (
	FlagBoolean = "boolean"
	FlagString  = "string"
	FlagNumber  = "number"
	FlagObject  = "object"
)

// FlagTypes lists the flag types, in the order messages name them.
var FlagTypes = []string{FlagBoolean, FlagString, FlagNumber, FlagObject}

// FlagValue is a value (or a variant's name) with where it was written.
type FlagValue struct {
	V   any
	Pos Pos
}

// FlagRule is `{when: {ATTRIBUTE: CONDITION, ...}, value: V}`: V when every condition holds.
type FlagRule struct {
	When  []Condition
	Value FlagValue
	Pos   Pos
}

// Condition operators.
const (
	OpEquals        = "equals"
	OpIn            = "in"
	OpNotIn         = "not_in"
	OpStartsWith    = "starts_with"
	OpSemverAtLeast = "semver_at_least"
)

// Condition tests one attribute of the evaluation context.
type Condition struct {
	Attribute string
	// Op is one of the Op constants; Values holds its operand(s): one for equals,
	// starts_with and semver_at_least, the list for in and not_in.
	Op     string
	Values []any
	Pos    Pos
}

// Rollout gives Value to Percent percent of targeting keys (sticky: see package flag).
type Rollout struct {
	Percent int
	Value   FlagValue
	Pos     Pos
}

// FlagState is what was changed at run time about one flag in one environment, above what
// the files say.
type FlagState struct {
	Environment string `json:"environment"`
	Flag        string `json:"flag"`
	// Value is the value `flag set` gave (JSON; a variant's name when the flag has
	// variants); nil when none.
	Value json.RawMessage `json:"value,omitempty"`
	// Percent is the rollout percent `flag rollout` gave; nil when none.
	Percent *int `json:"percent,omitempty"`
	// Killed forces the default above every rule until unkill; KillReason says why.
	Killed     bool      `json:"killed"`
	KillReason string    `json:"kill_reason,omitempty"`
	UpdatedBy  string    `json:"updated_by"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// FlagChange is one runtime change of a flag in an environment: each non-nil field is
// written, the others are kept.
type FlagChange struct {
	Environment string
	Flag        string
	// Value sets the value; ClearValue forgets it (back to the files).
	Value      json.RawMessage
	ClearValue bool
	Percent    *int
	// Killed, when set, kills (true, with Reason) or unkills (false) the flag.
	Killed *bool
	Reason string
	Actor  string
	At     time.Time
}

// FlagStore keeps runtime changes of flags, and a counter that every change moves, so that
// a server caching flags can tell cheaply whether anything changed.
type FlagStore interface {
	// ChangeFlag applies c to the flag's state (made when there is none), moves the
	// counter, and appends e, in one transaction; it returns the state as now stored.
	// EINVALID when c names no environment or flag.
	ChangeFlag(ctx context.Context, c *FlagChange, e *Event) (*FlagState, error)
	// FlagStates returns the states of env's flags ("" for every environment), by
	// environment and flag.
	FlagStates(ctx context.Context, env string) ([]*FlagState, error)
	// FlagsVersion returns the counter: it grows with every ChangeFlag.
	FlagsVersion(ctx context.Context) (int64, error)
	// RequestFlagChange records r, a change that waits for approvals (ID and CreatedAt
	// set by the store, State FlagWaiting), with e. EINVALID when it names no environment,
	// flag or requester, or needs no approval.
	RequestFlagChange(ctx context.Context, r *FlagRequest, e *Event) error
	// ApproveFlagChange adds a's approval to waiting request id with e; when the request
	// then has the approvals it needs, it applies its change as ChangeFlag does (with
	// applied, its audit event) and marks it FlagApplied, in the same transaction. It
	// returns the request, and the flag's state when it was applied (else nil). ENOTFOUND
	// when there is no such request; ECONFLICT when it is no longer waiting, or a.Principal
	// asked for it or approved it already.
	ApproveFlagChange(ctx context.Context, id string, a Approval, e, applied *Event) (*FlagRequest, *FlagState, error)
	// FlagRequests returns the requests of env ("" for every environment) that wait,
	// oldest first.
	FlagRequests(ctx context.Context, env string) ([]*FlagRequest, error)
}

// FlagRequest states.
const (
	FlagWaiting = "waiting"
	FlagApplied = "applied"
)

// FlagRequest is a runtime flag change that waits for approvals (policy.flag_approvals)
// from principals other than the one who asked for it.
type FlagRequest struct {
	ID          string          `json:"id"`
	Environment string          `json:"environment"`
	Flag        string          `json:"flag"`
	Action      string          `json:"action"`
	Change      FlagChange      `json:"change"`
	Detail      json.RawMessage `json:"detail,omitempty"`
	RequestedBy string          `json:"requested_by"`
	Needed      int             `json:"needed"`
	Approvals   []Approval      `json:"approvals"`
	State       string          `json:"state"`
	CreatedAt   time.Time       `json:"created_at"`
}
