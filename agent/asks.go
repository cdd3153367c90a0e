package agent

import (
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/strata-dev/strata"
	strhttp "github.com/strata-dev/strata/http"
)

// What the agent asks of its servers, which may be older than it: a server refuses a field it
// does not know (400, "unknown field"), and a kind of job it does not hand out. The agent then
// asks as that server expects, from then on (until it restarts): a report alone and then a
// claim instead of a report that claims the next job; deployments only instead of the kinds a
// newer agent runs; no word of what it heard; a run's output with its report only. It also
// keeps what it heard of its claims, to say it when an answer may have been lost
// (agent_again.go on the server).
type asks struct {
	mu sync.Mutex
	// next: a report claims the next job too (the welcome's ReportNext).
	next bool
	// kinds are the kinds of job claimed; nil (deployments only) once a server refused the
	// field.
	kinds []string
	// noHeard: a server refused the field heard.
	noHeard bool
	// noRunOutput: a server refused a run's output before its report (logs of a run).
	noRunOutput bool
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
	if a.unheard && !a.noHeard {
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

// runOutput reports whether a claimed run's output is sent while it runs: not once a
// server refused it.
func (a *asks) runOutput() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.noRunOutput
}

var (
	// runOutputRefused is how a server older than a run's output so far refuses it.
	runOutputRefused = regexp.MustCompile(`the output of run t-[^ ]+ comes with its report`)
	unknownField     = regexp.MustCompile(`unknown field "([a-z_]+)"`)
	unknownKind      = regexp.MustCompile(`job kind "([a-z_]+)" is not one this server hands out`)
)

// older reads err, a server's refusal, as that of a server older than the agent: when it
// refuses something the agent may do without, the agent asks without it from now on, and
// older says what it gave up ("" when err is another refusal, to be taken as it is).
func (a *asks) older(err error) string {
	if err == nil || strhttp.Unreachable(err) || strata.ErrorCode(err) != strata.EINVALID {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if runOutputRefused.MatchString(err.Error()) {
		if !a.noRunOutput {
			a.noRunOutput = true
			return "sending a run's output while it runs"
		}
		return ""
	}
	if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
		switch m[1] {
		case "next", "wait_seconds":
			if a.next {
				a.next = false
				return "a report that claims the next job"
			}
		case "kinds":
			if a.kinds != nil {
				a.kinds = nil
				return "claiming jobs other than deployments"
			}
		case "heard":
			if !a.noHeard {
				a.noHeard = true
				return "saying which claims it heard of"
			}
		}
		return ""
	}
	if m := unknownKind.FindStringSubmatch(err.Error()); m != nil && slices.Contains(a.kinds, m[1]) {
		a.kinds = slices.DeleteFunc(a.kinds, func(k string) bool { return k == m[1] })
		return "claiming jobs of kind " + m[1]
	}
	return ""
}
