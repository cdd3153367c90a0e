package strata

import (
	"strings"
	"time"
)

// AgentProtocol is the version of the protocol agents speak with a server (the routes under
// /api/v1/agent). A server refuses an agent that speaks an older one, naming both.
const AgentProtocol = 1

// Agent is a `strata agent` process that registered with a server: it dials out from inside
// an environment's network and runs the deployments of its pool. Name is unique; a process
// that registers under a name already known takes the record over (a restart).
type Agent struct {
	Name     string `json:"name"`
	Pool     string `json:"pool"`
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
	// Token is the name of the token the agent authenticated with.
	Token          string    `json:"token"`
	ConnectedSince time.Time `json:"connected_since"`
	LastSeen       time.Time `json:"last_seen"`
}

// agentHost prefixes the Host of an agent's Owner, which no machine's host name can be
// mistaken for (host names hold no ':').
const agentHost = "agent:"

// AgentOwner is the owner a claim by agent records: its name, and the claim's fence in
// place of a process start time, so that the owner of each claim differs from the last.
func AgentOwner(agent string, fence int64) Owner {
	return Owner{Host: agentHost + agent, Start: fence}
}

// IsAgent reports whether o is an agent's claim (AgentOwner): its liveness is its lease
// alone, never a process on this host.
func (o Owner) IsAgent() bool { return strings.HasPrefix(o.Host, agentHost) }

// JobClaim asks for the oldest deployment an agent may run: pending, or claimed by an
// agent whose lease lapsed before Now (ClaimJob); or for the oldest runbook run queued for
// its pool (ClaimRunJob).
type JobClaim struct {
	// Pool is the agent's pool; Envs the environments of the pool its token covers.
	Pool string
	Envs []string
	// AllEnvs says Envs is every environment of the pool (the token covers them all): the
	// claim then takes any deployment of the pool without naming them, which for a pool of
	// a thousand environments is most of a claim's cost.
	AllEnvs bool
	// TaskKinds are the kinds of task run (TaskRunbook, TaskDestroy) ClaimRunJob may take;
	// none takes every kind.
	TaskKinds []string
	// Agent is the claiming agent's name; Until the end of its lease.
	Agent      string
	Now, Until time.Time
	// Since is for HeldJob and HeldRunJob: a job the agent holds claimed since then (at
	// Since or later) is one whose answer it never received.
	Since time.Time
}
