package strata

import (
	"context"
	"slices"
	"time"
)

// Group is a set of environments of which one is live (takes the traffic) and the others
// stand by: a blue/green pair, or a disaster-recovery pair. `strata switch` moves the
// traffic with the group's Switch step and records the new live member in the store.
type Group struct {
	Name string
	Pos  Pos
	// Environments are the members, in the order strata.yaml names them; EnvPos says where
	// each was written.
	Environments []string
	EnvPos       []Pos
	// Live is the member that is live before any switch was recorded (the store knows
	// afterwards); the first member when strata.yaml does not say.
	Live    string
	LivePos Pos
	// Switch is the step that moves the traffic (DNS, a load balancer); nil when the group
	// declares none, and then a switch only records which member is live.
	Switch *Step
	// Policy holds the approvals a switch needs (Approvals; the other fields are unused).
	Policy Policy
}

// Group roles a stage may select ({group: shop-us, role: standby}).
const (
	RoleLive    = "live"
	RoleStandby = "standby"
)

// Standby returns the members other than live, in declaration order.
func (g *Group) Standby(live string) []string {
	out := make([]string, 0, len(g.Environments))
	for _, n := range g.Environments {
		if n != live {
			out = append(out, n)
		}
	}
	return out
}

// Has reports whether env is a member of g.
func (g *Group) Has(env string) bool { return slices.Contains(g.Environments, env) }

// Group returns the group named name, or nil.
func (p *Project) Group(name string) *Group {
	for _, g := range p.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// GroupOf returns the group env is a member of, or nil (an environment is in one group at
// most).
func (p *Project) GroupOf(env string) *Group {
	for _, g := range p.Groups {
		if g.Has(env) {
			return g
		}
	}
	return nil
}

// GroupNames returns every group's name in declaration order.
func (p *Project) GroupNames() []string {
	out := make([]string, len(p.Groups))
	for i, g := range p.Groups {
		out[i] = g.Name
	}
	return out
}

// Switch kinds: a gated switch, or a failover that skips the gates a dead side cannot pass.
const (
	KindSwitch   = "switch"
	KindFailover = "failover"
)

// Switch states: as a task run's (RunWaiting ... RunRejected).
const (
	SwitchWaiting   = "waiting"
	SwitchRunning   = "running"
	SwitchSucceeded = "succeeded"
	SwitchFailed    = "failed"
	SwitchRejected  = "rejected"
)

// Switch is one move of a group's traffic from one member to another (`strata switch`,
// `strata failover`). It is recorded running (owned by the process that runs the group's
// switch step) before the step runs; the live pointer moves in the same transaction that
// records it succeeded, so that a crash mid-switch leaves it running for resume, which
// runs the (idempotent) step again and moves the pointer once.
type Switch struct {
	ID        string     `json:"id"`
	Group     string     `json:"group"`
	From      string     `json:"from"`
	To        string     `json:"to"`
	Kind      string     `json:"kind"`
	State     string     `json:"state"`
	Requester string     `json:"requester"`
	Reason    string     `json:"reason,omitempty"`
	Approvals []Approval `json:"approvals"`
	Error     string     `json:"error,omitempty"`
	// Output is the switch step's output, secret values redacted, its first 64 KiB.
	Output     string    `json:"output,omitempty"`
	Owner      Owner     `json:"-"`
	LeaseUntil time.Time `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Open reports whether the switch has not ended.
func (s *Switch) Open() bool { return s.State == SwitchWaiting || s.State == SwitchRunning }

// LiveMember is a group's live member as the store records it.
type LiveMember struct {
	Group       string    `json:"group"`
	Environment string    `json:"environment"`
	Switch      string    `json:"switch"` // the switch that made it live
	Since       time.Time `json:"since"`
}

// SwitchFilter selects switches. Zero fields select everything.
type SwitchFilter struct {
	Group  string
	States []string
	Limit  int
}

// GroupStore keeps environment groups' switches and which member of each is live.
type GroupStore interface {
	// CreateSwitch records s (ID and CreatedAt set when empty), waiting or running (then
	// owned by s.Owner until s.LeaseUntil). When an open (waiting or running) switch of the
	// group exists, it fills s with that one and returns ECONFLICT: one switch of a group
	// at a time. EINVALID when s has no group, from or to, an unknown kind or a state other
	// than those.
	CreateSwitch(ctx context.Context, s *Switch, e *Event) error
	// ApproveSwitch adds a's approval to a waiting switch. ECONFLICT when that principal
	// has approved it already or it is not waiting; ENOTFOUND when there is none.
	ApproveSwitch(ctx context.Context, id string, a Approval, e *Event) error
	// ClaimSwitch moves a waiting switch to running, owned by owner until until, only if it
	// is still waiting (compare and set). ECONFLICT when it is no longer waiting; ENOTFOUND
	// when there is none.
	ClaimSwitch(ctx context.Context, id string, owner Owner, until time.Time, e *Event) error
	// TakeOverSwitch makes to the owner of a running switch whose owner is from (compare
	// and set), so that of several processes that found its owner gone one runs it again.
	// ECONFLICT when someone else took it first or it is no longer running; ENOTFOUND when
	// there is none.
	TakeOverSwitch(ctx context.Context, id string, from, to Owner, until time.Time, e *Event) error
	// FinishSwitch writes s's ending (succeeded, failed or rejected), its error, output and
	// finished time. A succeeded switch makes s.To the group's live member in the same
	// transaction, only if the live member is still s.From (or none is recorded yet).
	// ECONFLICT when the stored switch is running and its owner is not s.Owner, when it has
	// ended already, or when the group's live member is neither s.From nor s.To (someone
	// moved it); ENOTFOUND when there is none.
	FinishSwitch(ctx context.Context, s *Switch, e *Event) error
	// Switch returns one switch; ENOTFOUND when there is none.
	Switch(ctx context.Context, id string) (*Switch, error)
	// Switches returns the switches f selects, newest first.
	Switches(ctx context.Context, f SwitchFilter) ([]*Switch, error)
	// LiveMembers returns the live member of every group a switch has moved, by group name.
	LiveMembers(ctx context.Context) ([]*LiveMember, error)
}
