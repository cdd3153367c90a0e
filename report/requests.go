package report

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// The requests of the commands (package command declares which command takes which). A
// field tagged `path:"NAME"` fills {NAME} in the route's path and one tagged `query:"NAME"`
// is the query parameter NAME (its `doc` tag says what it means, for the OpenAPI document);
// every other field with a JSON name is part of the JSON body, which the server decodes with
// unknown fields refused. A body whose fields are all omitempty may be left out. Parallel,
// where present, bounds how many environments of a wave deploy at once (0: the server's
// default).

// ReleaseRequest is the body of POST /api/v1/releases.
type ReleaseRequest struct {
	Service  string `json:"service"`
	Version  string `json:"version,omitempty"`
	Parallel int    `json:"parallel,omitempty"`
	// Bundle names a bundle uploaded beforehand (POST /api/v1/bundles): the release records
	// its artifacts and recipe instead of running build.
	Bundle string `json:"bundle,omitempty"`
	// Artifacts are local files or directories built elsewhere (release --artifact), used
	// instead of running build. They never travel to a server, which must not read paths
	// of its own machine on a client's word: a remote client uploads a bundle instead.
	Artifacts []string `json:"-"`
}

// DeployRequest is the body of POST /api/v1/deployments.
type DeployRequest struct {
	Service string `json:"service"`
	Version string `json:"version,omitempty"`
	Env     string `json:"env"`
	NoWait  bool   `json:"no_wait,omitempty"`
}

// RollbackRequest is the body of POST /api/v1/rollbacks.
type RollbackRequest struct {
	Service string `json:"service"`
	Env     string `json:"env"`
	To      string `json:"to,omitempty"`
	// OverrideFreeze rolls back into a frozen environment (an admin or approver, break
	// glass); OverrideWindow outside its deploy windows (an admin). Reason is required
	// with either; both are audited.
	OverrideFreeze bool   `json:"override_freeze,omitempty"`
	OverrideWindow bool   `json:"override_window,omitempty"`
	Reason         string `json:"reason,omitempty"`
}

// PromoteRequest is the body of POST /api/v1/promotions and POST /api/v1/plan.
type PromoteRequest struct {
	Service        string `json:"service"`
	Version        string `json:"version,omitempty"`
	To             string `json:"to,omitempty"`
	OverrideWindow bool   `json:"override_window,omitempty"`
	Reason         string `json:"reason,omitempty"`
	Parallel       int    `json:"parallel,omitempty"`
	// Only narrows the stage to these of its environments (`--only`, repeatable).
	Only []string `json:"only,omitempty"`
	// Members, with more than one, asks for a release train: one promotion of them all
	// (Service and Version are then the first member's). A member's version "" is its newest.
	Members []Member `json:"members,omitempty"`
}

// Member is one release of a release train, as asked for.
type Member struct {
	Service string `json:"service"`
	Version string `json:"version,omitempty"`
}

// Engine returns the engine's request for r.
func (r PromoteRequest) Engine() engine.PromoteRequest {
	req := engine.PromoteRequest{Service: r.Service, Version: r.Version, To: r.To, OverrideWindow: r.OverrideWindow, Reason: r.Reason, Only: r.Only}
	for _, m := range r.Members {
		req.Members = append(req.Members, strata.Member{Service: m.Service, Version: m.Version})
	}
	if len(req.Members) > 1 {
		req.Service, req.Version = req.Members[0].Service, req.Members[0].Version
	}
	return req
}

// ApproveRequest is POST /api/v1/promotions/{id}/approve, whose body is optional.
type ApproveRequest struct {
	ID       string `json:"-" path:"id"`
	Parallel int    `json:"parallel,omitempty"`
}

// RejectRequest is POST /api/v1/promotions/{id}/reject.
type RejectRequest struct {
	ID     string `json:"-" path:"id"`
	Reason string `json:"reason"`
}

// FreezeRequest is the body of POST /api/v1/freezes.
type FreezeRequest struct {
	Env    string `json:"env"`
	Reason string `json:"reason"`
}

// EnvCreateRequest is the body of POST /api/v1/environments: a short-lived environment
// made like a declared one. TTL is a Go duration or whole days ("7d"); "" means none.
type EnvCreateRequest struct {
	Name   string            `json:"name"`
	Like   string            `json:"like"`
	TTL    string            `json:"ttl,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Set is its own config (--set KEY=VALUE), each key checked against every schema that
	// declares it; Policy "inherit" keeps the parent's deploy windows and approvals.
	Set    map[string]string `json:"set,omitempty"`
	Policy string            `json:"policy,omitempty"`
}

// EnvDestroyRequest is DELETE /api/v1/environments/{name}.
type EnvDestroyRequest struct {
	Name string `path:"name"`
}

// UnfreezeRequest is DELETE /api/v1/freezes/{env}.
type UnfreezeRequest struct {
	Env string `path:"env"`
}

// ConfigRequest is GET /api/v1/config/{service}: `config SERVICE --env ENV [--explain]`.
type ConfigRequest struct {
	Service string `path:"service"`
	Env     string `query:"env" doc:"the environment (required)"`
	Explain bool   `query:"explain" doc:"1 adds each value's trail of layers"`
}

// DiffRequest is GET /api/v1/diff: `diff A B`.
type DiffRequest struct {
	A string `query:"a" doc:"the first environment"`
	B string `query:"b" doc:"the second environment"`
}

// DeploymentRequest is GET /api/v1/deployments/{id}: one deployment.
type DeploymentRequest struct {
	ID string `path:"id"`
}

// LogsRequest is GET /api/v1/deployments/{id}/logs: a deployment's output after the chunk
// numbered After; Follow streams it (server-sent events) until the deployment ends.
type LogsRequest struct {
	ID     string `path:"id"`
	After  int64  `query:"after" doc:"only chunks after this sequence number"`
	Follow bool   `query:"follow" doc:"1 streams server-sent events until the deployment ends"`
}

// PromotionsQuery is GET /api/v1/promotions: promotions, newest first.
type PromotionsQuery struct {
	State   string `query:"state" doc:"only these states, comma-separated"`
	Service string `query:"service" doc:"only this service"`
	Limit   int    `query:"limit" doc:"at most this many (0: all); the X-Next-Cursor header gives the next page"`
	Cursor  string `query:"cursor" doc:"where the page begins: the X-Next-Cursor of the page before"`
}

// PromotionRequest is GET /api/v1/promotions/{id}: one promotion, its gates judged now.
type PromotionRequest struct {
	ID string `path:"id"`
}

// AuditRequest is GET /api/v1/audit: the events it selects, or with Verify the
// verification of the whole log's hash chain.
type AuditRequest struct {
	Service string `query:"service" doc:"only events about this service"`
	Env     string `query:"env" doc:"only events about this environment"`
	Actor   string `query:"actor" doc:"only events by this principal"`
	Action  string `query:"action" doc:"only this action"`
	Limit   int    `query:"limit" doc:"only the newest N (0: all); the X-Next-Cursor header gives the page of older ones"`
	Cursor  string `query:"cursor" doc:"where the page begins: the X-Next-Cursor of the page before"`
	Verify  bool   `query:"verify" doc:"1 recomputes the hash chain (admin)"`
}

// Filter is the store's filter for r.
func (r AuditRequest) Filter() strata.EventFilter {
	return strata.EventFilter{Service: r.Service, Environment: r.Env, Actor: r.Actor, Action: r.Action, Limit: r.Limit}
}

// StatusRequest is GET /api/v1/status: the matrix, a page of cells at a time when Limit is
// set (cells come environment by environment, each with every service).
type StatusRequest struct {
	Limit  int    `query:"limit" doc:"at most this many cells (0: all); the document's next gives the next page"`
	Cursor string `query:"cursor" doc:"where the page begins: the next of the page before"`
}

// EnvListRequest is GET /api/v1/environments: `env list`, a page at a time when Limit is set.
type EnvListRequest struct {
	Limit  int    `query:"limit" doc:"at most this many (0: all); the X-Next-Cursor header gives the next page"`
	Cursor string `query:"cursor" doc:"where the page begins: the X-Next-Cursor of the page before"`
}

// DriftRequest is GET /api/v1/drift: `drift [--env ENV]`.
type DriftRequest struct {
	Env string `query:"env" doc:"only this environment"`
	// AgentWait is how long an observe step (or a failover item's health check) of an
	// environment with runs_on waits for an agent of its pool (a duration such as 30s;
	// empty: 30s).
	AgentWait string `query:"agent_wait" doc:"how long an observe on an agent waits for one of its pool to answer (e.g. 30s; default 30s)"`
}

// ObserveWait reads req's AgentWait (AgentWait).
func (req DriftRequest) ObserveWait() (time.Duration, error) {
	return AgentWait(req.AgentWait)
}

// AgentWait reads s, an --agent-wait, as how long work queued for an agent of a pool (an
// observe step, a health check) waits for one to claim it: engine.DefaultAgentWait when
// empty; EINVALID naming the flag when it is not a duration from 1s to 10m.
func AgentWait(s string) (time.Duration, error) {
	if s == "" {
		return engine.DefaultAgentWait, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d > engine.MaxAgentWait {
		return 0, strata.Errorf(strata.EINVALID, "--agent-wait %q: want a duration from 1s to %s, such as 30s", s, engine.MaxAgentWait)
	}
	return d, nil
}

// CreateEnv makes the short-lived environment req asks for, as e's actor.
func CreateEnv(ctx context.Context, e *engine.Engine, req EnvCreateRequest) (*Ephemeral, error) {
	if req.Like == "" {
		return nil, strata.Errorf(strata.EINVALID, "--like is required: name the declared environment to copy, e.g. --like staging")
	}
	env := &strata.EphemeralEnv{Name: req.Name, Like: req.Like, Labels: req.Labels, Set: req.Set}
	switch req.Policy {
	case "":
	case "inherit":
		env.InheritPolicy = true
	default:
		return nil, strata.Errorf(strata.EINVALID, "--policy %q: the one choice is inherit (keep the parent's deploy windows and approvals); without it a short-lived environment has neither", req.Policy)
	}
	if req.TTL != "" {
		d, err := ParseTTL(req.TTL)
		if err != nil {
			return nil, err
		}
		env.Expires = now(e).Add(d).UTC()
	}
	if err := e.CreateEnvironment(ctx, env); err != nil {
		return nil, err
	}
	return NewEphemeral(env), nil
}

// ParseTTL reads a positive Go duration, or a whole number of days ("7d").
func ParseTTL(s string) (time.Duration, error) {
	bad := strata.Errorf(strata.EINVALID, `--ttl %q: want a positive duration such as "24h", "30m" or "7d"`, s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// ParseSet reads KEY=VALUE pairs (--set flags); the value may hold '=' and be empty.
func ParseSet(pairs []string) (map[string]string, error) {
	var set map[string]string
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, strata.Errorf(strata.EINVALID, "--set %q: want KEY=VALUE, e.g. --set PORT=9101", kv)
		}
		if set == nil {
			set = map[string]string{}
		}
		set[k] = v
	}
	return set, nil
}

// ParseLabels reads k=v pairs (--label flags).
func ParseLabels(pairs []string) (map[string]string, error) {
	var labels map[string]string
	for _, l := range pairs {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, strata.Errorf(strata.EINVALID, "--label %q: want k=v, e.g. --label owner=alice", l)
		}
		if labels == nil {
			labels = map[string]string{}
		}
		labels[k] = v
	}
	return labels, nil
}

// now is e's clock.
func now(e *engine.Engine) time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}
