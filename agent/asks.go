package agent

import (
	"slices"
	"sync"
	"time"

	strhttp "github.com/strata-dev/strata/http"
)

// What the agent asks of its servers: a report that claims the next job when the server
// offers it, and, when an answer may have been lost, what it heard of its claims
// (agent_again.go on the server).
type asks struct {
	mu sync.Mutex
	// next: a report claims the next job too (the welcome's ReportNext).
	next bool
	// kinds are the kinds of job claimed.
	kinds []string
	// heard is the newest claim the agent received, by the server's clock, or its
	// registration; unheard says a request that claims got no answer since: a job may be
	// the agent's that it never received.
	heard   time.Time
	unheard bool
}

func newAsks() *asks {
	return &asks{kinds: slices.Clone(claimKinds)}
}

// registered records the welcome of a registration.
func (a *asks) registered(w *strhttp.AgentWelcome) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next = w.ReportNext
	if w.Agent != nil && w.Agent.ConnectedSince.After(a.heard) {
		a.heard = w.Agent.ConnectedSince
	}
}

// claim is the claim to send.
func (a *asks) claim(name, pool string, wait time.Duration) strhttp.ClaimRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := strhttp.ClaimRequest{Name: name, Pool: pool, WaitSeconds: wait.Seconds(), Kinds: slices.Clone(a.kinds)}
	if a.unheard {
		c.Heard = a.heard
	}
	return c
}

// reportNext says whether a report claims the next job, and of which kinds.
func (a *asks) reportNext() (bool, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.next, slices.Clone(a.kinds)
}

// answered records the answer to a request that claims: c, nil when none came with it.
func (a *asks) answered(c *strhttp.Claimed) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unheard = false
	if c != nil && c.ClaimedAt.After(a.heard) {
		a.heard = c.ClaimedAt
	}
}

// lost records that a request that claims got no answer.
func (a *asks) lost() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unheard = true
}

// reportAlone stops asking a report to claim the next job: a server older than that refused
// the field.
func (a *asks) reportAlone() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next = false
}
