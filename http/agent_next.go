package http

import (
	"context"
	"sync"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// An agent that has run a deployment reports it and asks for the next one in one request
// (AgentReport.Next): the report is recorded first, in its own transaction, and then the
// request goes on as a claim would, held until a deployment of the pool is pending or the
// wait ends. It spares the agent a round trip and the server a request per deployment:
// its authentication, decoding and the agent's last-seen write (bench/README.md, issue 11
// point 7). The old routes answer as before; a server that offers this says so in its
// welcome (AgentWelcome.ReportNext).

// ReportedNext answers a report that asked for the next claim: the deployment as recorded,
// and the claim (Job nil when nothing came within the wait, or the claim failed: the agent
// then claims as usual).
// Run is set in place of Deployment when the report was of a task run (a t-… id).
type ReportedNext struct {
	Deployment *report.Deployment `json:"deployment,omitempty"`
	Run        *strata.TaskRun    `json:"run,omitempty"`
	Next       *Claimed           `json:"next"`
}

// claimNext claims the next job for the agent of r, whose report of id is recorded, of the
// kinds r names, giving first a job the agent holds claimed since since (not zero: the report
// was sent again, agent_again.go). A claim that fails is logged and answered as nothing
// claimed: the report stands, and the agent must not send it again.
func (s *Server) claimNext(c *call, r AgentReport, id string, since time.Time) *Claimed {
	next, err := s.claim(c, ClaimRequest{Name: r.Name, Pool: r.Pool, WaitSeconds: r.WaitSeconds, Kinds: r.Kinds}, since)
	if err != nil {
		if c.r.Context().Err() == nil {
			s.log.Warn("claim after a report", "agent", r.Name, "reported", id, "err", err)
		}
		next = &Claimed{}
	}
	return next
}

// seenEvery is how often a server records that an agent claiming from it is still
// connected: `agent list` and the pools' "none connected" count an agent as gone after
// engine.AgentGone (a minute), and a busy agent claims every few milliseconds.
const seenEvery = time.Second

// seen remembers when this server last recorded each agent as seen.
type seen struct {
	mu sync.Mutex
	at map[string]time.Time
}

// seeAgent records agent name of pool as seen now, unless this server did within
// seenEvery. An agent the store does not know is ENOTFOUND (it registers again).
func (s *Server) seeAgent(ctx context.Context, name, pool string) error {
	now := s.now()
	s.seen.mu.Lock()
	last, ok := s.seen.at[name]
	s.seen.mu.Unlock()
	if ok && !now.Before(last) && now.Sub(last) < seenEvery {
		return nil
	}
	if err := s.store.SeeAgent(ctx, &strata.Agent{Name: name, Pool: pool, LastSeen: now}, false); err != nil {
		return err
	}
	s.seen.mu.Lock()
	defer s.seen.mu.Unlock()
	if s.seen.at == nil || len(s.seen.at) >= maxCoverages {
		s.seen.at = map[string]time.Time{}
	}
	s.seen.at[name] = now
	return nil
}
