package http

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

// The agents' protocol (docs/agents.md). An agent dials out and speaks JSON over these
// routes, with a token of role agent: it registers, claims a deployment of its pool
// (long-poll: the request is held until one is pending or the wait ends, and the agent asks
// again), renews the claim's lease, sends its (already redacted) output and reports the
// outcome. Every request after the claim carries the claim's fence: a request with an older
// one, from an agent whose lease lapsed and whose deployment another agent took over, is
// refused (409, ECONFLICT). The server never connects to an agent.

// DefaultAgentLease is how long an agent's claim lasts without renewal, and DefaultAgentWait
// how long a claim request is held open when nothing is pending.
const (
	DefaultAgentLease = 30 * time.Second
	DefaultAgentWait  = 25 * time.Second
	// DefaultAgentPoll is how often a held claim looks at the store for work no wake-up
	// told it of. Work queued on this server wakes its held claims at once (engine.Wakes:
	// a deployment or run queued for a pool, a rollback a report recorded); the poll finds
	// only what other processes sharing the store queued (a CLI on the store, another
	// server) and deployments whose agent's lease lapsed (30 s by default), for which 2 s
	// more is little. At 200 ms an idle server with 4 agents made 132 store calls in 3 s.
	DefaultAgentPoll = 2 * time.Second
)

// AgentHello is an agent's register and heartbeat request.
type AgentHello struct {
	Name     string `json:"name"`
	Pool     string `json:"pool"`
	Version  string `json:"version,omitempty"`
	Protocol int    `json:"protocol"`
}

// AgentWelcome answers a register: the protocol and lease the server uses, and the
// environments of the pool the agent's token covers.
type AgentWelcome struct {
	Agent        *strata.Agent `json:"agent"`
	Protocol     int           `json:"protocol"`
	LeaseSeconds float64       `json:"lease_seconds"`
	Environments []string      `json:"environments"`
	// ReportNext says the server answers a report that asks for it with the agent's next
	// claim (AgentReport.Next): a server older than that refuses the field.
	ReportNext bool `json:"report_next,omitempty"`
}

// ClaimRequest asks for a job of the agent's pool, waiting up to WaitSeconds (at most the
// server's wait) for one. Kinds names the kinds of job the agent runs: "deploy" (every
// deployment, rollbacks included), "run" (runbook runs), "destroy" (the destroy steps of
// `env destroy`), "observe" (drift's observe steps) and "health" (health checks run again:
// a switch's health gate, drift's failover items); an agent that names none (an older one)
// is given deployments only, and one that names some is never given another kind.
type ClaimRequest struct {
	Name        string   `json:"name"`
	Pool        string   `json:"pool"`
	WaitSeconds float64  `json:"wait_seconds,omitempty"`
	Kinds       []string `json:"kinds,omitempty"`
	// Heard, sent by an agent whose last claiming request got no answer, is the newest
	// claim it received (its ClaimedAt), or when none its registration (the welcome's
	// agent's connected_since): a job claimed for it after that, whose lease holds, is given
	// again first (agent_again.go). A server older than it refuses the field.
	Heard time.Time `json:"heard,omitzero"`
}

// Job kinds an agent names in its claim (ClaimRequest.Kinds).
const (
	ClaimDeploy  = "deploy"
	ClaimRun     = strata.TaskRunbook
	ClaimDestroy = strata.TaskDestroy
	ClaimObserve = strata.TaskObserve
	ClaimHealth  = strata.TaskHealth
)

// claimKinds checks the kinds a claim names and says which it takes: deployments (none
// named, or "deploy"), and the kinds of task run it names, sorted.
func claimKinds(kinds []string) (deploy bool, tasks []string, err error) {
	if len(kinds) == 0 {
		return true, nil, nil
	}
	for _, k := range kinds {
		switch k {
		case ClaimDeploy:
			deploy = true
		case ClaimRun, ClaimDestroy, ClaimObserve, ClaimHealth:
			if !slices.Contains(tasks, k) {
				tasks = append(tasks, k)
			}
		default:
			return false, nil, strata.Errorf(strata.EINVALID, "claim: job kind %q is not one this server hands out; name %q, %q, %q, %q or %q", k, ClaimDeploy, ClaimRun, ClaimDestroy, ClaimObserve, ClaimHealth)
		}
	}
	slices.Sort(tasks)
	return deploy, tasks, nil
}

// Claimed is a claimed job: its job, the id of its deployment (or, for a task run, of the
// run: t-…), the claim's fence and lease. Job is nil when nothing was pending within
// the wait.
type Claimed struct {
	Job          *engine.Job `json:"job"`
	Deployment   string      `json:"deployment,omitempty"`
	Attempt      int         `json:"attempt,omitempty"`
	Fence        int64       `json:"fence,omitempty"`
	LeaseSeconds float64     `json:"lease_seconds,omitempty"`
	LeaseUntil   time.Time   `json:"lease_until,omitzero"`
	// ClaimedAt is when the job was claimed, by the server's clock: what the agent says it
	// heard (ClaimRequest.Heard) should a later answer be lost.
	ClaimedAt time.Time `json:"claimed_at,omitzero"`
}

// Fenced names a claim: every request about a claimed deployment (or run: a t-… id in
// Deployment) carries it.
type Fenced struct {
	Name       string `json:"name"`
	Pool       string `json:"pool"`
	Deployment string `json:"deployment"`
	Fence      int64  `json:"fence"`
}

// Renewed answers a renewal with the lease's new end.
type Renewed struct {
	LeaseUntil time.Time `json:"lease_until"`
}

// AgentLogs is a batch of a claimed deployment's or run's output, redacted by the agent. A
// run's pieces are kept as its output so far (their Step and At are not kept); a server
// older than that refuses them (400, "comes with its report").
type AgentLogs struct {
	Name       string     `json:"name"`
	Pool       string     `json:"pool"`
	Deployment string     `json:"deployment"`
	Fence      int64      `json:"fence"`
	Chunks     []LogPiece `json:"chunks"`
}

// LogPiece is one piece of a step's output.
type LogPiece struct {
	Step string    `json:"step"`
	At   time.Time `json:"at,omitzero"`
	Data string    `json:"data"`
}

// AgentReport is the outcome of a claimed deployment's attempt, or of a claimed run (then
// with its command's exit code and its output, redacted by the agent).
type AgentReport struct {
	Name       string            `json:"name"`
	Pool       string            `json:"pool"`
	Deployment string            `json:"deployment"`
	Fence      int64             `json:"fence"`
	State      string            `json:"state"`
	Health     string            `json:"health,omitempty"`
	Outputs    map[string]string `json:"outputs,omitempty"`
	Error      string            `json:"error,omitempty"`
	// Next asks, once the outcome is recorded, for the agent's next claim as a claim would
	// (waiting up to WaitSeconds): the answer is then ReportedNext (agent_next.go).
	Next        bool    `json:"next,omitempty"`
	WaitSeconds float64 `json:"wait_seconds,omitempty"`
	// Kinds are the next claim's job kinds, as ClaimRequest.Kinds.
	Kinds    []string `json:"kinds,omitempty"`
	ExitCode *int     `json:"exit_code,omitempty"`
	Output   string   `json:"output,omitempty"`
}

// agentRoutes are the agents' routes, in the order docs/api.md lists them.
func (s *Server) agentRoutes() []route {
	r := func(path, summary string, body any, serve func(c *call) (any, error)) route {
		return route{Method: "POST", Path: "/api/v1/agent/" + path, Action: strata.ActAgent, Summary: summary, serve: serve, body: reflect.TypeOf(body)}
	}
	return []route{
		r("register", "An agent says who it is, its pool and protocol version", AgentHello{}, s.agentRegister),
		r("heartbeat", "An agent says it is still connected", AgentHello{}, s.agentHeartbeat),
		r("claim", "Claim a deployment or a task run (runbook, destroy, observe) of the agent's pool (long-poll)", ClaimRequest{}, s.agentClaim),
		r("renew", "Renew a claim's lease (with its fence)", Fenced{}, s.agentRenew),
		r("logs", "Send a claimed deployment's or run's redacted output (with its fence)", AgentLogs{}, s.agentLogs),
		r("report", "Report a claimed deployment's or run's outcome (with its fence)", AgentReport{}, s.agentReport),
	}
}

// agentName is what an agent's and a pool's name look like (the environment name rule).
var agentName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// checkHello checks an agent's name, pool and protocol version.
func checkHello(h AgentHello) error {
	switch {
	case !agentName.MatchString(h.Name):
		return strata.Errorf(strata.EINVALID, "agent name %q is not valid; use lower-case letters, digits, '-', '_' and '.', e.g. eu-1 (strata agent --name)", h.Name)
	case !agentName.MatchString(h.Pool):
		return strata.Errorf(strata.EINVALID, "pool %q is not valid; use lower-case letters, digits, '-', '_' and '.', as an environment's runs_on names it", h.Pool)
	case h.Protocol < strata.AgentProtocol:
		return strata.Errorf(strata.EINVALID, "agent %s speaks agent protocol %d; this server speaks protocol %d: upgrade strata on the agent's host to the server's version", h.Name, h.Protocol, strata.AgentProtocol)
	}
	return nil
}

// poolEnvs returns the environments of pool the token covers. A token that covers none,
// or a pool no environment runs on, is refused (403) and audited: an agent cannot take work
// of a pool or an environment its credential was not made for.
func (c *call) poolEnvs(pool string) ([]string, error) {
	covered, _, err := c.poolCoverage(pool)
	return covered, err
}

// poolCoverage is poolEnvs, and whether the token covers every environment of pool.
func (c *call) poolCoverage(pool string) ([]string, bool, error) {
	key := coverageKey{p: c.p, hash: c.tok.Hash, pool: pool}
	if got, ok := c.s.covers.get(key); ok {
		return got.envs, got.all, nil
	}
	var all, covered []string
	for _, e := range c.p.Environments {
		if e.RunsOn != pool {
			continue
		}
		all = append(all, e.Name)
		if c.tok.Covers(e) {
			covered = append(covered, e.Name)
		}
	}
	if len(covered) > 0 {
		c.s.covers.put(key, poolShare{envs: covered, all: len(covered) == len(all)})
		return covered, len(covered) == len(all), nil
	}
	c.s.auditDenied(c.r.Context(), c.r, c.tok, strata.ActAgent, "")
	if len(all) == 0 {
		return nil, false, deny("no environment runs_on pool %s; the agent's --pool must name the runs_on of an environment its token covers", pool)
	}
	return nil, false, deny("%s's token does not cover any environment of pool %s (%s; the token covers %s)", c.tok.Name, pool, listNames(all), coverage(c.tok))
}

func listNames(names []string) string {
	if len(names) > 5 {
		return fmt.Sprintf("%v and %d more", names[:5], len(names)-5)
	}
	return fmt.Sprint(names)
}

func (s *Server) agentLease() time.Duration {
	if s.cfg.AgentLease > 0 {
		return s.cfg.AgentLease
	}
	return DefaultAgentLease
}

func (s *Server) agentPoll() time.Duration {
	if s.cfg.AgentPoll > 0 {
		return s.cfg.AgentPoll
	}
	return DefaultAgentPoll
}

func (s *Server) agentRegister(c *call) (any, error) {
	var h AgentHello
	if err := c.decode(&h); err != nil {
		return nil, err
	}
	if err := checkHello(h); err != nil {
		return nil, err
	}
	envs, err := c.poolEnvs(h.Pool)
	if err != nil {
		return nil, err
	}
	a := &strata.Agent{Name: h.Name, Pool: h.Pool, Version: h.Version, Protocol: h.Protocol, Token: c.tok.Name, LastSeen: s.now()}
	if err := s.store.SeeAgent(c.r.Context(), a, true); err != nil {
		return nil, err
	}
	s.log.Info("agent registered", "agent", a.Name, "pool", a.Pool, "version", a.Version, "token", c.tok.Name)
	return &AgentWelcome{Agent: a, Protocol: strata.AgentProtocol, LeaseSeconds: s.agentLease().Seconds(), Environments: envs, ReportNext: true}, nil
}

func (s *Server) agentHeartbeat(c *call) (any, error) {
	var h AgentHello
	if err := c.decode(&h); err != nil {
		return nil, err
	}
	if err := checkHello(h); err != nil {
		return nil, err
	}
	if _, err := c.poolEnvs(h.Pool); err != nil {
		return nil, err
	}
	a := &strata.Agent{Name: h.Name, Pool: h.Pool, LastSeen: s.now()}
	if err := s.store.SeeAgent(c.r.Context(), a, false); err != nil {
		return nil, err
	}
	return a, nil
}

// agentClaim hands the agent the oldest deployment of its pool that waits, holding the
// request open until one does or the wait ends (then Job is nil and the agent asks again).
func (s *Server) agentClaim(c *call) (any, error) {
	var req ClaimRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	return s.claim(c, req, heldSince(req.Heard))
}

// claim is agentClaim's work once the request is read; a report that asks for the next
// claim does it too. A job the agent holds claimed since since (not zero) is given first: a
// claim whose answer it never received (agent_again.go).
func (s *Server) claim(c *call, req ClaimRequest, since time.Time) (*Claimed, error) {
	if err := checkHello(AgentHello{Name: req.Name, Pool: req.Pool, Protocol: strata.AgentProtocol}); err != nil {
		return nil, err
	}
	takeDeploys, taskKinds, err := claimKinds(req.Kinds)
	if err != nil {
		return nil, err
	}
	envs, all, err := c.poolCoverage(req.Pool)
	if err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	if err := s.seeAgent(ctx, req.Name, req.Pool); err != nil {
		return nil, err
	}
	wait := s.cfg.AgentWait
	if wait <= 0 {
		wait = DefaultAgentWait
	}
	if w := time.Duration(req.WaitSeconds * float64(time.Second)); w >= 0 && w < wait {
		wait = w
	}
	deadline := time.Now().Add(wait)
	lease := s.agentLease()
	if !since.IsZero() {
		got, err := s.held(context.WithoutCancel(ctx), req, envs, all, since, takeDeploys, taskKinds)
		if strata.ErrorCode(err) != strata.ENOTFOUND {
			return got, err
		}
	}
	// Claims that take other kinds of job do not share a turn: one that found no
	// deployment says nothing of runs.
	gate := s.claims.gate(req.Pool+"\x00"+fmt.Sprint(takeDeploys, taskKinds), c.tok.Hash)
	wasWoken := false // by a wake-up rather than the poll
	for {
		if ctx.Err() != nil {
			// The agent hung up: claim nothing it would never hear of.
			return nil, ctx.Err()
		}
		// Taken before looking: a deployment made pending in this process after the look
		// wakes the wait below.
		woken := s.engine.Wakes.Pending.Wait()
		gen := s.engine.Wakes.Pending.Seq()
		got, skipped, err := gate.try(wasWoken, gen, func() (*Claimed, error) {
			now := s.now()
			claim := strata.JobClaim{Pool: req.Pool, Envs: envs, AllEnvs: all, Agent: req.Name, Now: now, Until: now.Add(lease), TaskKinds: taskKinds}
			ev := &strata.Event{Actor: c.tok.Name, Action: "agent.claim"}
			var err error = strata.Errorf(strata.ENOTFOUND, "nothing pending")
			if takeDeploys {
				var d *strata.Deployment
				d, err = s.store.ClaimJob(context.WithoutCancel(ctx), claim, ev)
				if err == nil {
					return s.claimedDeployment(req, d, lease)
				}
			}
			if len(taskKinds) > 0 && strata.ErrorCode(err) == strata.ENOTFOUND {
				var r *strata.TaskRun
				r, err = s.store.ClaimRunJob(context.WithoutCancel(ctx), claim, ev)
				if err == nil {
					return s.claimedRun(req, r, lease)
				}
			}
			return nil, err
		})
		if skipped {
			// Another held claim looked after this wake-up and found nothing.
			err = strata.Errorf(strata.ENOTFOUND, "nothing pending")
		}
		wasWoken = false
		switch code := strata.ErrorCode(err); {
		case err == nil:
			return got, nil
		case code == strata.ECONFLICT:
			continue // another agent took that one first: look again at once
		case code != strata.ENOTFOUND:
			return nil, err
		}
		if !time.Now().Before(deadline) {
			return &Claimed{}, nil
		}
		select {
		case <-ctx.Done():
		case <-woken:
			wasWoken = true
		case <-time.After(min(s.agentPoll(), time.Until(deadline))):
		}
	}
}

// claimedDeployment is the answer to a claim that took deployment d.
func (s *Server) claimedDeployment(req ClaimRequest, d *strata.Deployment, lease time.Duration) (*Claimed, error) {
	j, err := engine.ParseJob(d.Job)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", d.ID, err)
	}
	j.Deployment = d.ID
	j.Rollback = nil // the server's, for a failure's report; not the agent's to run
	s.metrics.claimed(req.Pool, s.now().Sub(d.CreatedAt))
	s.log.Info("agent claimed", "agent", req.Name, "deployment", d.ID, "attempt", d.Attempt, "fence", d.Fence)
	return &Claimed{Job: j, Deployment: d.ID, Attempt: d.Attempt, Fence: d.Fence, LeaseSeconds: lease.Seconds(), LeaseUntil: d.LeaseUntil, ClaimedAt: d.StartedAt}, nil
}

// claimedRun is the answer to a claim that took task run r.
func (s *Server) claimedRun(req ClaimRequest, r *strata.TaskRun, lease time.Duration) (*Claimed, error) {
	j, err := engine.ParseJob(r.Job)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", r.ID, err)
	}
	j.Run = r.ID
	// Not in strata_agent_claim_wait_seconds, which is the deployments' wait.
	s.log.Info("agent claimed", "agent", req.Name, "run", r.ID, "fence", r.Fence)
	return &Claimed{Job: j, Deployment: r.ID, Attempt: 1, Fence: r.Fence, LeaseSeconds: lease.Seconds(), LeaseUntil: r.LeaseUntil, ClaimedAt: r.StartedAt}, nil
}

// isRun reports whether a fenced request's id names a runbook run rather than a deployment.
func isRun(id string) bool { return strings.HasPrefix(id, "t-") }

// claimedRun reads the run a fenced request is about and checks as claimed does.
func (c *call) claimedRun(f Fenced) (*strata.TaskRun, error) {
	if f.Fence <= 0 || !agentName.MatchString(f.Name) {
		return nil, strata.Errorf(strata.EINVALID, "name the agent, the claimed run and the claim's fence (a whole number from 1)")
	}
	r, err := c.s.store.TaskRun(c.r.Context(), f.Deployment)
	if err != nil {
		return nil, err
	}
	if err := c.allow(strata.ActAgent, r.Environment); err != nil {
		return nil, err
	}
	if r.Pool == "" || r.Pool != f.Pool {
		c.s.auditDenied(c.r.Context(), c.r, c.tok, strata.ActAgent, r.Environment)
		return nil, deny("%s is not a run of pool %s", r.ID, f.Pool)
	}
	return r, nil
}

// claimed reads the deployment a fenced request is about and checks the token covers its
// environment and the request names its pool: a refusal is 403, audited.
func (c *call) claimed(f Fenced) (*strata.Deployment, error) {
	if f.Deployment == "" || f.Fence <= 0 || !agentName.MatchString(f.Name) {
		return nil, strata.Errorf(strata.EINVALID, "name the agent, the claimed deployment and the claim's fence (a whole number from 1)")
	}
	d, err := c.s.store.Deployment(c.r.Context(), f.Deployment)
	if err != nil {
		return nil, err
	}
	if err := c.allow(strata.ActAgent, d.Environment); err != nil {
		return nil, err
	}
	if d.Pool == "" || d.Pool != f.Pool {
		c.s.auditDenied(c.r.Context(), c.r, c.tok, strata.ActAgent, d.Environment)
		return nil, deny("%s is not a deployment of pool %s", d.ID, f.Pool)
	}
	return d, nil
}

func (s *Server) agentRenew(c *call) (any, error) {
	var f Fenced
	if err := c.decode(&f); err != nil {
		return nil, err
	}
	if isRun(f.Deployment) {
		if _, err := c.claimedRun(f); err != nil {
			return nil, err
		}
	} else if _, err := c.claimed(f); err != nil {
		return nil, err
	}
	// A renewal is the agent's heartbeat while it runs a job.
	if err := s.store.SeeAgent(c.r.Context(), &strata.Agent{Name: f.Name, Pool: f.Pool, LastSeen: s.now()}, false); err != nil && strata.ErrorCode(err) != strata.ENOTFOUND {
		return nil, err
	}
	until := s.now().Add(s.agentLease())
	renew := s.store.RenewLease
	if isRun(f.Deployment) {
		renew = s.store.RenewTaskRun
	}
	if err := renew(c.r.Context(), f.Deployment, strata.AgentOwner(f.Name, f.Fence), until); err != nil {
		return nil, err
	}
	s.metrics.leaseRenewed()
	return &Renewed{LeaseUntil: until}, nil
}

func (s *Server) agentLogs(c *call) (any, error) {
	var l AgentLogs
	if err := c.decode(&l); err != nil {
		return nil, err
	}
	if isRun(l.Deployment) {
		r, err := c.claimedRun(Fenced{l.Name, l.Pool, l.Deployment, l.Fence})
		if err != nil {
			return nil, err
		}
		if r.Owner != strata.AgentOwner(l.Name, l.Fence) || r.State != strata.RunRunning {
			return nil, strata.Errorf(strata.ECONFLICT, "%s is no longer claimed by %s with fence %d (it is %s); stop sending its output", r.ID, l.Name, l.Fence, r.State)
		}
		// A run's output so far: what waits for it and `runs show` see it while it runs;
		// its report's output (the whole, as the agent kept it) is written over it.
		var data strings.Builder
		for _, p := range l.Chunks {
			data.WriteString(p.Data)
		}
		if err := s.store.AppendTaskRunOutput(c.r.Context(), r.ID, strata.AgentOwner(l.Name, l.Fence), data.String()); err != nil {
			return nil, err
		}
		s.engine.Wakes.ReportedOf(r.ID) // a wait in this process shows the new output at once
		return map[string]int{"chunks": len(l.Chunks)}, nil
	}
	d, err := c.claimed(Fenced{l.Name, l.Pool, l.Deployment, l.Fence})
	if err != nil {
		return nil, err
	}
	if d.Owner != strata.AgentOwner(l.Name, l.Fence) || !strata.Active(d.State) {
		return nil, strata.Errorf(strata.ECONFLICT, "%s is no longer claimed by %s with fence %d (it is %s, fence %d); stop sending its output", d.ID, l.Name, l.Fence, d.State, d.Fence)
	}
	for _, p := range l.Chunks {
		at := p.At
		if at.IsZero() {
			at = s.now()
		}
		if err := s.store.AppendLog(c.r.Context(), d.ID, strata.LogChunk{Attempt: d.Attempt, Step: p.Step, At: at.UTC(), Data: p.Data}); err != nil {
			return nil, err
		}
	}
	return map[string]int{"chunks": len(l.Chunks)}, nil
}

func (s *Server) agentReport(c *call) (any, error) {
	var r AgentReport
	if err := c.decode(&r); err != nil {
		return nil, err
	}
	if !slices.Contains([]string{strata.Succeeded, strata.Failed}, r.State) {
		return nil, strata.Errorf(strata.EINVALID, "state %q: an agent reports succeeded or failed", r.State)
	}
	if r.Health != "" && r.Health != strata.Healthy && r.Health != strata.Unhealthy {
		return nil, strata.Errorf(strata.EINVALID, "health %q: want healthy, unhealthy or none", r.Health)
	}
	if isRun(r.Deployment) {
		return s.agentReportRun(c, r)
	}
	d, err := c.claimed(Fenced{r.Name, r.Pool, r.Deployment, r.Fence})
	if err != nil {
		return nil, err
	}
	if reportedAgain(d, r) {
		return s.answerAgain(c, r, d), nil // its first answer was lost
	}
	// The owner names the fence: the update matches only the claim the report is about.
	d.Owner = strata.AgentOwner(r.Name, r.Fence)
	d.State, d.Health, d.Outputs, d.Error, d.FinishedAt = r.State, r.Health, r.Outputs, r.Error, s.now()
	detail, _ := json.Marshal(map[string]any{"version": d.Version, "attempt": d.Attempt, "agent": r.Name, "fence": r.Fence, "error": r.Error})
	ev := &strata.Event{Actor: c.tok.Name, Action: "deployment." + r.State, Service: d.Service, Environment: d.Environment, Subject: d.ID, Detail: detail}
	// A failure whose job carries its rollback is recorded with the rollback, pending for
	// the pool, in one transaction: it happens once, whoever asked for d and whether or
	// not that process still waits.
	rb, err := s.engine.Reported(context.WithoutCancel(c.r.Context()), d, ev)
	if strata.ErrorCode(err) == strata.ECONFLICT {
		// The same report, sent again while the first was being recorded?
		if now, rerr := s.store.Deployment(context.WithoutCancel(c.r.Context()), d.ID); rerr == nil && reportedAgain(now, r) {
			return s.answerAgain(c, r, now), nil
		}
	}
	if err != nil {
		return nil, err
	}
	s.engine.Wakes.ReportedOf(d.ID) // the process waiting for d, when it is this one, reads it at once
	s.log.Info("agent reported", "agent", r.Name, "deployment", d.ID, "state", d.State)
	if rb != nil {
		s.log.Info("rollback recorded", "deployment", d.ID, "rollback", rb.ID, "version", rb.Version, "pool", rb.Pool)
	}
	if r.Next {
		return &ReportedNext{Deployment: report.NewDeployment(d), Next: s.claimNext(c, r, d.ID, time.Time{})}, nil
	}
	return report.NewDeployment(d), nil
}

// agentReportRun records the outcome of a claimed runbook run, compare-and-set on the claim
// (its owner names the fence): a report of another claim, or of a run failed meanwhile
// because its lease lapsed, is refused (409).
func (s *Server) agentReportRun(c *call, rep AgentReport) (any, error) {
	if rep.Health != "" || len(rep.Outputs) > 0 {
		return nil, strata.Errorf(strata.EINVALID, "a run's report has no health or outputs: send state, exit_code, output and error")
	}
	r, err := c.claimedRun(Fenced{rep.Name, rep.Pool, rep.Deployment, rep.Fence})
	if err != nil {
		return nil, err
	}
	if runReportedAgain(r, rep) {
		return s.answerRunAgain(c, rep, r), nil // its first answer was lost
	}
	r.Owner = strata.AgentOwner(rep.Name, rep.Fence)
	r.State, r.Error, r.FinishedAt = rep.State, rep.Error, s.now()
	r.ExitCode = -1
	if rep.ExitCode != nil {
		r.ExitCode = *rep.ExitCode
	}
	r.Output = strata.KeepRunOutput(rep.Output, false)
	detail := map[string]any{"task": r.Task, "exit_code": r.ExitCode, "agent": rep.Name, "fence": rep.Fence}
	if r.Error != "" {
		detail["error"] = r.Error
	}
	b, _ := json.Marshal(detail)
	var ev *strata.Event
	if action := engine.RunAction(r); action != "" {
		ev = &strata.Event{Actor: c.tok.Name, Action: action, Service: r.Service, Environment: r.Environment, Subject: r.ID, Detail: b}
	}
	if err := s.store.UpdateTaskRun(context.WithoutCancel(c.r.Context()), r, ev); err != nil {
		if strata.ErrorCode(err) == strata.ECONFLICT {
			// The same report, sent again while the first was being recorded?
			if now, rerr := s.store.TaskRun(context.WithoutCancel(c.r.Context()), r.ID); rerr == nil && runReportedAgain(now, rep) {
				return s.answerRunAgain(c, rep, now), nil
			}
		}
		return nil, err
	}
	s.engine.Wakes.ReportedOf(r.ID) // the process waiting for r, when it is this one, reads it at once
	s.log.Info("agent reported", "agent", rep.Name, "run", r.ID, "state", r.State, "exit_code", r.ExitCode)
	if rep.Next {
		return &ReportedNext{Run: r, Next: s.claimNext(c, rep, r.ID, time.Time{})}, nil
	}
	return r, nil
}
