package strata

import (
	"crypto/sha256"
	"encoding/hex"
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

// Owner is the process that runs a deployment. On the owner's own host a dead PID (or a PID
// whose start time differs) means the deployment was interrupted at once; elsewhere an expired
// lease does.
type Owner struct {
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	Start int64  `json:"start"` // process start time, in clock ticks since boot where known
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
	// Owner, PGID and LeaseUntil say who runs it now; empty once it has ended.
	Owner      Owner     `json:"-"`
	PGID       int       `json:"-"`
	LeaseUntil time.Time `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Health results.
const (
	Healthy   = "healthy"
	Unhealthy = "unhealthy"
)

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
	// Override is set when an admin opened a closed window; Reason says why.
	Override  bool      `json:"override,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
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

// ComputeHash returns the hash that chains e to the event before it: sha256 over the previous
// hash and every field of e but Hash, in a fixed order. Stores call it when appending and
// `audit --verify` calls it again to detect edits, removals and reorderings.
func (e *Event) ComputeHash(prev string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n%s\n%q\n%q\n%q\n%q\n%q\n", prev, e.Seq, e.At.UTC().Format(time.RFC3339Nano),
		e.Actor, e.Action, e.Service, e.Environment, e.Subject)
	h.Write(e.Detail)
	return hex.EncodeToString(h.Sum(nil))
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
}
