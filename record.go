package strata

import (
	"encoding/json"
	"fmt"
	"time"
)

// Release is an immutable, content-addressed build of one service: built once, deployed
// everywhere. (Service, Version) is unique; Digest is the sha256 of its artifacts.
type Release struct {
	ID      string `json:"id"`
	Service string `json:"service"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Recipe is the digest of the files the service's steps use (its scripts), copied at
	// release time, so that editing a script later changes nothing about how this release
	// deploys or rolls back. Empty for releases recorded before bundles.
	Recipe string `json:"recipe,omitempty"`
	// Bundle is the one digest that names the whole recipe: artifacts and step files.
	Bundle    string    `json:"bundle,omitempty"`
	Commit    string    `json:"commit,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Recalled, when set, says who marked the release bad, when and why (recall.go).
	Recalled *Recall `json:"recalled,omitempty"`
}

// Deployment states.
const (
	Pending     = "pending"
	Running     = "running"
	Succeeded   = "succeeded"
	Failed      = "failed"
	RolledBack  = "rolled_back"
	Interrupted = "interrupted"
)

// Active reports whether a deployment in state holds its (service, environment): nothing
// else may deploy there until it ends or is resumed.
func Active(state string) bool {
	return state == Pending || state == Running || state == Interrupted
}

// Owner is the process that runs a deployment or a promotion. On the owner's own host a dead
// PID (or a PID whose start time differs) means the work was interrupted at once; elsewhere an
// expired lease does.
type Owner struct {
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	Start int64  `json:"start"` // process start time as the host tells it (clock ticks since boot on Linux, µs since 1970 on macOS); 0 where unknown
}

// ID is the owner's identity as the store compares it.
func (o Owner) ID() string {
	if o.Host == "" {
		return ""
	}
	return fmt.Sprintf("%s/%d/%d", o.Host, o.PID, o.Start)
}

// Deployment is one release into one environment.
type Deployment struct {
	ID          string `json:"id"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Version     string `json:"version"`
	ReleaseID   string `json:"release"`
	State       string `json:"state"`
	Attempt     int    `json:"attempt"`
	// Kind says why it ran: "deploy", "release", "promotion", "rollback" or "resume".
	Kind        string `json:"kind,omitempty"`
	PromotionID string `json:"promotion,omitempty"`
	// RollbackOf is the failed deployment this one rolls back, if any.
	RollbackOf string `json:"rollback_of,omitempty"`
	Actor      string `json:"actor,omitempty"`
	// Config is the resolved config the deployment used, secret values replaced by "***".
	Config map[string]any `json:"config,omitempty"`
	// ConfigHash fingerprints the full config, secrets included, for drift detection.
	ConfigHash string            `json:"config_hash,omitempty"`
	Outputs    map[string]string `json:"outputs,omitempty"`
	// Health is "healthy", "unhealthy" or "" when not checked (yet).
	Health string `json:"health,omitempty"`
	Error  string `json:"error,omitempty"`
	// Pool is the pool of agents that runs it (its environment's runs_on); "" when it runs
	// where it was asked for. Agent is the agent that claimed it last, and Fence counts the
	// claims: an agent's Owner is AgentOwner(Agent, Fence), so a renewal or a report that
	// carries an older fence matches nothing.
	Pool  string `json:"pool,omitempty"`
	Agent string `json:"agent,omitempty"`
	Fence int64  `json:"fence,omitempty"`
	// Job is what an agent needs to run it (the engine's job document, JSON), stored with a
	// deployment for a pool and read back only by the claim that hands it to an agent.
	Job []byte `json:"-"`
	// Owner, PGID and LeaseUntil say who runs it now; empty once it has ended.
	Owner      Owner     `json:"-"`
	PGID       int       `json:"-"`
	LeaseUntil time.Time `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Health results. HealthUnknown is what `status` shows for what runs where no check says
// either: the service has no health check, or nothing has checked it.
const (
	Healthy       = "healthy"
	Unhealthy     = "unhealthy"
	HealthUnknown = "unknown"
)

// HealthNow is the health of d, what runs in a pair, as status shows it: c's when c, the
// pair's newest check after the deployment, checked d; else d's own check's when it was
// made; else unknown (the service has no check).
func HealthNow(d *Deployment, c *HealthCheck) string {
	switch {
	case d == nil:
		return HealthUnknown
	case c != nil && c.Deployment == d.ID && (c.Health == Healthy || c.Health == Unhealthy):
		return c.Health
	case d.Health == Healthy || d.Health == Unhealthy:
		return d.Health
	}
	return HealthUnknown
}

// HealthCheck is what a check of what runs in a (service, environment) observed after the
// deployment: `serve` checks again every --health-interval, since a deployment that passed
// its check when it was made can stop passing it later. The store keeps the newest one of
// each pair, so that every replica, and a local `strata status`, shows the same.
type HealthCheck struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	// Deployment is the deployment that was checked: what ran in the pair then.
	Deployment string `json:"deployment"`
	// Health is Healthy or Unhealthy.
	Health string `json:"health"`
	// Detail is what a failing check observed ("GET URL: 404 Not Found"); empty when healthy.
	Detail string `json:"detail,omitempty"`
	// CheckedAt is when the check ran; Since is when Deployment's health became Health
	// (the store sets it).
	CheckedAt time.Time `json:"checked_at"`
	Since     time.Time `json:"since"`
}

// Promotion states.
const (
	Waiting  = "waiting"
	Rejected = "rejected"
	// Running, Succeeded and Failed are shared with deployments.
)

// Promotion is a request to move a release into a stage.
type Promotion struct {
	ID        string     `json:"id"`
	Service   string     `json:"service"`
	Version   string     `json:"version"`
	Stage     string     `json:"stage"`
	State     string     `json:"state"`
	Requester string     `json:"requester"`
	Approvals []Approval `json:"approvals"`
	// Only, when set, narrows the promotion to these environments of its stage (a hotfix
	// into part of a stage, or the one environment a `deploy` needing approvals asked for).
	Only []string `json:"only,omitempty"`
	// Members, when set, makes the promotion a release train: every release it moves, in the
	// order asked, the first being Service@Version. Empty for a promotion of one release.
	Members []Member `json:"members,omitempty"`
	// Override is set when an admin opened a closed window; Reason says why.
	Override bool   `json:"override,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Error    string `json:"error,omitempty"`
	// Owner and LeaseUntil say which process runs a running promotion (deploys its waves and
	// records its outcome), by the same rule as a deployment's: when the owner is gone,
	// `resume` or the scheduler takes the promotion over and carries it on. Empty unless
	// running.
	Owner      Owner     `json:"-"`
	LeaseUntil time.Time `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Member is one release of a release train.
type Member struct {
	Service string `json:"service"`
	Version string `json:"version"`
}

// Approval is one principal's approval of a promotion.
type Approval struct {
	Principal string    `json:"principal"`
	At        time.Time `json:"at"`
}

// Freeze closes an environment to deployments until it is lifted.
type Freeze struct {
	Environment string    `json:"environment"`
	Reason      string    `json:"reason"`
	Actor       string    `json:"actor"`
	At          time.Time `json:"at"`
}

// LogChunk is one piece of a deployment's step output, as stored (already redacted).
type LogChunk struct {
	Seq     int64     `json:"seq"`
	Attempt int       `json:"attempt"`
	Step    string    `json:"step"`
	At      time.Time `json:"at"`
	Data    string    `json:"data"`
}

// Event is one line of the audit log. Seq, At, Prev and Hash are filled by the store in the
// same transaction as the change the event records.
type Event struct {
	Seq         int64           `json:"seq"`
	At          time.Time       `json:"at"`
	Actor       string          `json:"actor"`
	Action      string          `json:"action"`
	Service     string          `json:"service,omitempty"`
	Environment string          `json:"environment,omitempty"`
	Subject     string          `json:"subject,omitempty"` // the id of the release, deployment or promotion
	Detail      json.RawMessage `json:"detail,omitempty"`
	Prev        string          `json:"prev"`
	Hash        string          `json:"hash"`
}

// EphemeralEnv is a short-lived environment made by `strata env create`: it lives in the
// store rather than in strata.yaml, and is made like the declared environment Like (as if it
// said `extends: Like`), with Labels laid over Like's.
type EphemeralEnv struct {
	Name   string            `json:"name"`
	Like   string            `json:"like"`
	Labels map[string]string `json:"labels,omitempty"`
	// Expires is when it should be destroyed; zero means it has no time to live.
	Expires   time.Time `json:"expires,omitzero"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Set holds the config values given with `env create --set KEY=VALUE`, as written: a
	// layer of its own above the parent's, shown by `config --explain` with CreatedBy.
	Set map[string]string `json:"set,omitempty"`
	// InheritPolicy keeps the parent's deploy windows and approvals (`--policy inherit`);
	// without it a short-lived environment, which is in no stage, has neither.
	InheritPolicy bool `json:"inherit_policy,omitempty"`
}
