package strata

import (
	"context"
	"time"
)

// SchemaVersion is the store schema this binary reads and writes. A store from a newer
// binary is refused untouched.
const SchemaVersion = 8

// Store keeps Strata's records. Every exported method owns its transaction; a method that
// takes an *Event appends it to the audit log in the same transaction as the change it
// records (nil means the change is not audited, e.g. a lease renewal). Methods return
// *Error values with the codes their docs name; any other error is internal.
type Store interface {
	// Close releases the store.
	Close() error

	// CreateRelease records r. ECONFLICT when (service, version) exists already.
	CreateRelease(ctx context.Context, r *Release, e *Event) error
	// Release returns the release of service at version; ENOTFOUND when there is none.
	Release(ctx context.Context, service, version string) (*Release, error)
	// Releases returns a service's releases, newest first ("" for every service).
	Releases(ctx context.Context, service string) ([]*Release, error)

	// CreateDeployment records d (state pending or running, with its owner and lease) and
	// claims its (service, environment). EBLOCKED, naming the holder's id, when another
	// deployment of the pair is active (pending, running or interrupted).
	CreateDeployment(ctx context.Context, d *Deployment, e *Event) error
	// UpdateDeployment writes d's mutable fields (state, attempt, config, outputs, health,
	// error, owner, pgid, lease, times). ECONFLICT when the stored owner is not d.Owner (the
	// lease was lost: the caller must stop). ENOTFOUND when there is no such deployment.
	UpdateDeployment(ctx context.Context, d *Deployment, e *Event) error
	// FinishAndCreate writes done as UpdateDeployment does (with doneEvent) and then records
	// and claims next as CreateDeployment does (with nextEvent), in one transaction: a worker
	// that ends one deployment and starts its next commits once. done's write stands when
	// the claim fails: that failure (EBLOCKED naming the holder, ECONFLICT, EINVALID) is
	// claimErr. err is done's own failure, with UpdateDeployment's codes; then nothing was
	// written and next was not claimed.
	FinishAndCreate(ctx context.Context, done *Deployment, doneEvent *Event, next *Deployment, nextEvent *Event) (claimErr, err error)
	// RenewLease extends a running deployment's lease. ECONFLICT when owner no longer holds it.
	RenewLease(ctx context.Context, id string, owner Owner, until time.Time) error
	// TakeOver makes to the owner of a deployment whose current owner is from (compare and
	// set), marking it interrupted. ECONFLICT when someone else took it first.
	TakeOver(ctx context.Context, id string, from, to Owner, until time.Time, e *Event) error
	// Deployment returns one deployment; ENOTFOUND when there is none.
	Deployment(ctx context.Context, id string) (*Deployment, error)
	// Deployments returns the deployments f selects, newest first.
	Deployments(ctx context.Context, f DeploymentFilter) ([]*Deployment, error)

	// AppendLog stores a chunk of a deployment's (redacted) step output.
	AppendLog(ctx context.Context, id string, c LogChunk) error
	// Logs returns a deployment's chunks with Seq greater than after, in order.
	Logs(ctx context.Context, id string, after int64) ([]LogChunk, error)

	// CreatePromotion records p. When an open (waiting or running) promotion of the same
	// service, version and stage exists, it fills p with that one and returns ECONFLICT.
	CreatePromotion(ctx context.Context, p *Promotion, e *Event) error
	// UpdatePromotion writes p's state, override, reason, error and times.
	UpdatePromotion(ctx context.Context, p *Promotion, e *Event) error
	// Approve adds principal's approval to a waiting promotion. ECONFLICT when that principal
	// has approved it already or it is not waiting; ENOTFOUND when there is no such promotion.
	Approve(ctx context.Context, id string, a Approval, e *Event) error
	// ClaimPromotion moves a waiting promotion to running only if it is still waiting
	// (compare and set), so that of several workers that found its gates open exactly one
	// runs it. ECONFLICT when it is no longer waiting; ENOTFOUND when there is no such
	// promotion.
	ClaimPromotion(ctx context.Context, id string, e *Event) error
	// Promotion returns one promotion; ENOTFOUND when there is none.
	Promotion(ctx context.Context, id string) (*Promotion, error)
	// Promotions returns the promotions f selects, newest first.
	Promotions(ctx context.Context, f PromotionFilter) ([]*Promotion, error)

	// SetFreeze freezes an environment (f != nil) or lifts its freeze (f == nil, ENOTFOUND
	// when it was not frozen).
	SetFreeze(ctx context.Context, env string, f *Freeze, e *Event) error
	// Freezes returns every frozen environment.
	Freezes(ctx context.Context) ([]*Freeze, error)

	// Events returns audit events f selects, oldest first.
	Events(ctx context.Context, f EventFilter) ([]*Event, error)
	// AppendEvent records an event that goes with no other change (e.g. a denied request).
	AppendEvent(ctx context.Context, e *Event) error

	// CreateEnvironment records a short-lived environment (CreatedAt set to the clock when
	// zero). ECONFLICT when one of that name exists already; EINVALID when it has no name or
	// no Like.
	CreateEnvironment(ctx context.Context, env *EphemeralEnv, e *Event) error
	// DeleteEnvironment forgets a short-lived environment. ENOTFOUND when there is none.
	DeleteEnvironment(ctx context.Context, name string, e *Event) error
	// Environments returns every short-lived environment, oldest first.
	Environments(ctx context.Context) ([]*EphemeralEnv, error)

	// CreateToken records an API token (CreatedAt set to the clock when zero); only its
	// hash is kept. EINVALID when it has no valid name, role or hash; ECONFLICT when a valid
	// (unrevoked) token has that name.
	CreateToken(ctx context.Context, t *Token, e *Event) error
	// TokenByHash returns the valid token whose secret hashes to hash (HashToken).
	// ENOTFOUND when there is none; revoked tokens are not found.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// Tokens returns every token, revoked ones included, by name.
	Tokens(ctx context.Context) ([]*Token, error)
	// RevokeToken revokes the valid token called name. ENOTFOUND when there is none.
	RevokeToken(ctx context.Context, name string, e *Event) error
}

// DeploymentFilter selects deployments. Zero fields select everything.
type DeploymentFilter struct {
	Service     string
	Environment string
	// Version selects the deployments of one version (of any service the other fields
	// select).
	Version     string
	States      []string
	PromotionID string
	// Latest keeps, of the deployments the other fields select, only the newest of each
	// (service, environment): newest by created time, then by insertion, as the list is
	// ordered. With States succeeded it is what runs in each pair, one row a pair however
	// long the history. Limit applies after it.
	Latest bool
	Limit  int
}

// PromotionFilter selects promotions. Zero fields select everything.
type PromotionFilter struct {
	Service string
	Version string
	Stage   string
	States  []string
	Limit   int
}

// EventFilter selects audit events. Zero fields select everything.
type EventFilter struct {
	Service     string
	Environment string
	Actor       string
	Action      string
	Limit       int // the newest Limit events, still returned oldest first
}
