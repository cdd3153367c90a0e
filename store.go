package strata

import (
	"context"
	"errors"
	"time"
)

// SchemaVersion is the store schema this binary reads and writes. A store from a newer
// binary is refused untouched.
const SchemaVersion = 20

// Store keeps Strata's records. Every exported method owns its transaction; a method that
// takes an *Event appends it to the audit log in the same transaction as the change it
// records (nil means the change is not audited, e.g. a lease renewal). Methods return
// *Error values with the codes their docs name; any other error is internal.
//
// It is made of one small interface per kind of record, so that code which needs one kind
// (the log sink its logs, authentication its tokens) says so and is tested with just that.
type Store interface {
	ReleaseStore
	DeploymentStore
	LogStore
	PromotionStore
	FreezeStore
	EventStore
	EnvironmentStore
	TokenStore
	HealthStore
	AgentStore
	FlagStore
	WebhookStore
	TaskRunStore
	// GroupStore keeps environment groups' switches and live members (group.go).
	GroupStore
	// BundleStore keeps releases' bundles (bundle.go): files beside the database on
	// SQLite, chunks in the database on PostgreSQL.
	BundleStore
	// StoredSchema returns the newest migration the store's database holds: SchemaVersion
	// once this binary opened it, unless a newer binary migrated it further since (a
	// server that shares PostgreSQL with an upgraded one is then not ready).
	StoredSchema(ctx context.Context) (int, error)
	// Close releases the store.
	Close() error
}

// ReleaseStore keeps releases.
type ReleaseStore interface {
	// CreateRelease records r. ECONFLICT when (service, version) exists already.
	CreateRelease(ctx context.Context, r *Release, e *Event) error
	// Release returns the release of service at version; ENOTFOUND when there is none.
	Release(ctx context.Context, service, version string) (*Release, error)
	// Releases returns a service's releases, newest first ("" for every service).
	Releases(ctx context.Context, service string) ([]*Release, error)
	// SetRecall marks service@version bad (r != nil; r.At set to the clock when zero) or
	// lifts its recall (r == nil). ENOTFOUND when there is no such release, or, lifting,
	// when it is not recalled; ECONFLICT, naming who recalled it, when it is recalled
	// already; EINVALID when r has no By or Reason.
	SetRecall(ctx context.Context, service, version string, r *Recall, e *Event) error
}

// DeploymentStore keeps deployments, their claims on (service, environment) pairs and
// their owners' leases.
type DeploymentStore interface {
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
	// only the claim fails: the error is then a *ClaimError (find it with errors.As) holding
	// the claim's failure (EBLOCKED naming the holder, ECONFLICT, EINVALID). Any other error
	// is done's own failure, with UpdateDeployment's codes; then nothing was written and next
	// was not claimed.
	FinishAndCreate(ctx context.Context, done *Deployment, doneEvent *Event, next *Deployment, nextEvent *Event) error
	// RenewLease extends a running deployment's lease. ECONFLICT when owner no longer holds it.
	RenewLease(ctx context.Context, id string, owner Owner, until time.Time) error
	// TakeOver makes to the owner of a deployment whose current owner is from (compare and
	// set), marking it interrupted. ECONFLICT when someone else took it first.
	TakeOver(ctx context.Context, id string, from, to Owner, until time.Time, e *Event) error
	// ReclaimLapsed takes over for to, as TakeOver does, up to limit (100 when 0) active
	// deployments of no pool whose owner is on another host than to's and whose lease ended
	// before now, auditing each with event(d); concurrent reclaimers take different ones.
	// It returns them as they were before. EINVALID when to has no host.
	ReclaimLapsed(ctx context.Context, to Owner, now, until time.Time, limit int, event func(d *Deployment) *Event) ([]*Deployment, error)
	// Deployment returns one deployment; ENOTFOUND when there is none.
	Deployment(ctx context.Context, id string) (*Deployment, error)
	// Deployments returns the deployments f selects, newest first.
	Deployments(ctx context.Context, f DeploymentFilter) ([]*Deployment, error)
	// ScanDeployments calls fn with each deployment f selects, oldest first,
	// holding one at a time: a reader of a long history (the DORA figures of `stats`) needs
	// memory for what it keeps, not for the history. It stops, returning nil, when fn
	// returns ErrStopScan, and returns any other error fn returns.
	ScanDeployments(ctx context.Context, f DeploymentFilter, fn func(*Deployment) error) error
	// TallyDeployments counts every deployment by state, and the finished ones (started and
	// finished times set) by how long they took against bounds, in seconds, ascending. It
	// reads counts, not deployments: what it costs does not grow with what it returns.
	// EINVALID when bounds are not in ascending order.
	TallyDeployments(ctx context.Context, bounds []float64) (*DeploymentTally, error)
}

// LogStore keeps the (redacted) output of deployments' steps.
type LogStore interface {
	// AppendLog stores a chunk of a deployment's (redacted) step output.
	AppendLog(ctx context.Context, id string, c LogChunk) error
	// Logs returns a deployment's chunks with Seq greater than after, in order.
	Logs(ctx context.Context, id string, after int64) ([]LogChunk, error)
}

// PromotionStore keeps promotions, their approvals, and the owners and leases of those
// that run.
type PromotionStore interface {
	// CreatePromotion records p; a running p is recorded with p.Owner and p.LeaseUntil as its
	// owner and lease. When an open (waiting or running) promotion of the same service,
	// version and stage exists, it fills p with that one and returns ECONFLICT.
	CreatePromotion(ctx context.Context, p *Promotion, e *Event) error
	// UpdatePromotion writes p's state, override, reason, error and times, and its owner and
	// lease while it stays running (they are cleared otherwise). ECONFLICT when the stored
	// promotion is running and its owner is not p.Owner: the caller lost it (its lease lapsed
	// and another worker took it over) and must stop. ENOTFOUND when there is none.
	UpdatePromotion(ctx context.Context, p *Promotion, e *Event) error
	// Approve adds principal's approval to a waiting promotion. ECONFLICT when that principal
	// has approved it already or it is not waiting; ENOTFOUND when there is no such promotion.
	Approve(ctx context.Context, id string, a Approval, e *Event) error
	// ClaimPromotion moves a waiting promotion to running, owned by owner with a lease until
	// until, only if it is still waiting (compare and set), so that of several workers that
	// found its gates open exactly one runs it. ECONFLICT when it is no longer waiting;
	// ENOTFOUND when there is no such promotion.
	ClaimPromotion(ctx context.Context, id string, owner Owner, until time.Time, e *Event) error
	// RenewPromotionLease extends a running promotion's lease. ECONFLICT when owner no longer
	// holds it (another worker took it over, or it has ended); ENOTFOUND when there is none.
	RenewPromotionLease(ctx context.Context, id string, owner Owner, until time.Time) error
	// TakeOverPromotion makes to the owner of a running promotion whose current owner is from
	// (compare and set), with a lease until until, so that of several workers that found its
	// owner gone exactly one carries it on. ECONFLICT when someone else took it first or it is
	// no longer running; EINVALID when to has no host; ENOTFOUND when there is none.
	TakeOverPromotion(ctx context.Context, id string, from, to Owner, until time.Time, e *Event) error
	// Promotion returns one promotion; ENOTFOUND when there is none.
	Promotion(ctx context.Context, id string) (*Promotion, error)
	// Promotions returns the promotions f selects, newest first.
	Promotions(ctx context.Context, f PromotionFilter) ([]*Promotion, error)
}

// FreezeStore keeps which environments are frozen.
type FreezeStore interface {
	// SetFreeze freezes an environment (f != nil) or lifts its freeze (f == nil, ENOTFOUND
	// when it was not frozen).
	SetFreeze(ctx context.Context, env string, f *Freeze, e *Event) error
	// Freezes returns every frozen environment.
	Freezes(ctx context.Context) ([]*Freeze, error)
}

// EventStore reads the audit log, and appends to it what goes with no other change.
type EventStore interface {
	// Events returns audit events f selects, oldest first.
	Events(ctx context.Context, f EventFilter) ([]*Event, error)
	// ScanEvents calls fn with each audit event f selects, oldest first (newest first when
	// newestFirst; f.Limit then keeps the newest Limit too), holding one at a time: a reader
	// of a long log (verifying the chain, filtering further) needs memory for what it keeps,
	// not for the log. It stops, returning nil, when fn returns ErrStopScan, and returns any
	// other error fn returns.
	ScanEvents(ctx context.Context, f EventFilter, newestFirst bool, fn func(*Event) error) error
	// AppendEvent records an event that goes with no other change (e.g. a denied request).
	AppendEvent(ctx context.Context, e *Event) error
}

// EnvironmentStore keeps short-lived environments.
type EnvironmentStore interface {
	// CreateEnvironment records a short-lived environment (CreatedAt set to the clock when
	// zero). ECONFLICT when one of that name exists already; EINVALID when it has no name or
	// no Like.
	CreateEnvironment(ctx context.Context, env *EphemeralEnv, e *Event) error
	// DeleteEnvironment forgets a short-lived environment. ENOTFOUND when there is none.
	DeleteEnvironment(ctx context.Context, name string, e *Event) error
	// Environments returns every short-lived environment, oldest first.
	Environments(ctx context.Context) ([]*EphemeralEnv, error)
	// RetireEnvironment records r as gone (At set to the clock when zero); a name retired
	// before is retired again, as r says. With r.How HowDestroy it also forgets the
	// short-lived environment r.Name, in the same transaction (ENOTFOUND when there is
	// none). EINVALID when r has no name or an unknown How.
	RetireEnvironment(ctx context.Context, r *RetiredEnv, e *Event) error
	// RetiredEnvironments returns every environment recorded as gone, by name.
	RetiredEnvironments(ctx context.Context) ([]*RetiredEnv, error)
}

// TokenStore keeps API tokens (their hashes only).
type TokenStore interface {
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

// HealthStore keeps the newest health check of each (service, environment) pair.
type HealthStore interface {
	// RecordHealth keeps c as the pair's newest health check, unless the store holds one
	// that ran at or after c.CheckedAt: a slower replica's older result never overwrites a
	// newer one. It reports changed when this write moved the health of c.Deployment from
	// healthy to unhealthy or back (a deployment's first check changes it only when it is
	// unhealthy: the deployment passed its check when it was made), and then, and only then,
	// appends e in the same transaction; so of several servers that saw one transition, one
	// is told it changed. It sets c.Since. EINVALID when c has no service, environment or
	// deployment, or its Health is neither healthy nor unhealthy.
	RecordHealth(ctx context.Context, c *HealthCheck, e *Event) (changed bool, err error)
	// HealthChecks returns the newest health check of every pair, by environment and then
	// service name.
	HealthChecks(ctx context.Context) ([]*HealthCheck, error)
}

// QueueWaker is an optional interface of a Store whose processes can tell each other at once
// that work for agents was queued, so that claims held on another process look again without
// waiting out their poll. The PostgreSQL store implements it (NOTIFY and LISTEN); the SQLite
// store does not, and its processes find work by polling, as they would anyway.
type QueueWaker interface {
	// WakeQueues tells every process listening on the store (ListenQueues) that a
	// deployment or task run of a pool was queued. It says nothing of which: a listener looks
	// at the store again.
	WakeQueues(ctx context.Context) error
	// ListenQueues calls woken for each WakeQueues of any process on the store, and once
	// more each time it starts listening (the first time and after a lost connection: a word
	// may have been missed meanwhile). A lost connection is made again; it returns when ctx
	// ends. woken must not block.
	ListenQueues(ctx context.Context, woken func()) error
}

// AgentStore keeps the agents that registered and hands them deployments of their pools.
type AgentStore interface {
	// SeeAgent records that a is connected now (a.LastSeen, set to the clock when zero).
	// With connect, a (re)registering agent, its ConnectedSince starts again at LastSeen;
	// otherwise (a heartbeat) it is kept, and an agent never registered is ENOTFOUND.
	// EINVALID when a has no name or pool.
	SeeAgent(ctx context.Context, a *Agent, connect bool) error
	// Agents returns every agent that registered, by name.
	Agents(ctx context.Context) ([]*Agent, error)
	// ClaimJob gives c.Agent the oldest deployment of c.Pool in one of c.Envs that is
	// pending, or whose agent's lease lapsed before c.Now: it becomes running, owned by
	// AgentOwner(c.Agent, fence) with a lease until c.Until, its fence one more than before
	// and, when it was claimed before, its attempt too (the next attempt). It returns the
	// deployment with its Job, and appends e (nil: not audited) with the deployment as its
	// subject. Concurrent claimers each get a different deployment (rows are claimed
	// skipping locked ones where the database locks rows). ENOTFOUND when there is none.
	ClaimJob(ctx context.Context, c JobClaim, e *Event) (*Deployment, error)
	// HeldJob gives c.Agent again the deployment of c.Pool, in one of c.Envs (any of the
	// pool's with c.AllEnvs), it holds claimed: running, owned
	// by AgentOwner(c.Agent, its fence), its lease not lapsed by c.Now, and claimed (started)
	// at c.Since or later: a claim whose answer the agent never received (a cut link, a
	// server that died after the claim's commit). Its lease runs until c.Until from then; its
	// fence and attempt stay, and nothing is audited (the claim was). The newest such
	// claim when there are several. ENOTFOUND when there is none.
	HeldJob(ctx context.Context, c JobClaim) (*Deployment, error)
	// Job returns the job stored with deployment id (nil when it has none): the server
	// that records an agent's report reads the rollback a failure asks for there.
	// ENOTFOUND when there is no such deployment.
	Job(ctx context.Context, id string) ([]byte, error)
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
	// Since, when set, selects only the deployments created at or after it.
	Since time.Time
	// Before, an id, selects only the deployments listed after that one (older), for
	// paging: a list goes on where its last page ended, however many were added since.
	// An unknown id selects nothing. Not with Latest.
	Before string
}

// PromotionFilter selects promotions. Zero fields select everything.
type PromotionFilter struct {
	Service string
	Version string
	Stage   string
	States  []string
	Limit   int
	// Before, an id, selects only the promotions listed after that one (older), for
	// paging. An unknown id selects nothing.
	Before string
}

// EventFilter selects audit events. Zero fields select everything.
type EventFilter struct {
	Service     string
	Environment string
	// Unplaced, with Environment, also selects the events that name no environment (a
	// promotion's, which name a stage in their detail; a release's).
	Unplaced bool
	Actor    string
	Action   string
	Limit    int // the newest Limit events, still returned oldest first
	// Before selects only the events older than this sequence number, for paging; 0 means
	// no bound.
	Before int64
}

// ErrStopScan, returned by a scan's callback, ends the scan without an error.
var ErrStopScan = errors.New("stop the scan")

// DeploymentTally is what TallyDeployments counted.
type DeploymentTally struct {
	// ByState counts deployments by state; a state no deployment is in is absent.
	ByState map[string]int
	// Took counts the finished deployments by duration, one count per bound (not
	// cumulative): Took[i] those that took more than bounds[i-1] and at most bounds[i]
	// seconds. Those longer than every bound are in Finished and Seconds only.
	Took []int
	// Finished is how many deployments finished; Seconds is how long they took in all.
	Finished int
	Seconds  float64
}
