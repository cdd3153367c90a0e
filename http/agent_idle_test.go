package http_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	strhttp "github.com/strata-dev/strata/http"
)

// claimCounter is the store a server is given, counting the calls an agent's claim makes of
// it (the looks for a job, and the agent's last-seen write); the rest passes through.
type claimCounter struct {
	strata.Store
	n atomic.Int64
}

func (s *claimCounter) ClaimJob(ctx context.Context, c strata.JobClaim, e *strata.Event) (*strata.Deployment, error) {
	s.n.Add(1)
	return s.Store.ClaimJob(ctx, c, e)
}

func (s *claimCounter) ClaimRunJob(ctx context.Context, c strata.JobClaim, e *strata.Event) (*strata.TaskRun, error) {
	s.n.Add(1)
	return s.Store.ClaimRunJob(ctx, c, e)
}

func (s *claimCounter) HeldJob(ctx context.Context, c strata.JobClaim) (*strata.Deployment, error) {
	s.n.Add(1)
	return s.Store.HeldJob(ctx, c)
}

func (s *claimCounter) HeldRunJob(ctx context.Context, c strata.JobClaim) (*strata.TaskRun, error) {
	s.n.Add(1)
	return s.Store.HeldRunJob(ctx, c)
}

func (s *claimCounter) SeeAgent(ctx context.Context, a *strata.Agent, connect bool) error {
	s.n.Add(1)
	return s.Store.SeeAgent(ctx, a, connect)
}

// idleServer serves the estate again on a store that counts the claims' calls, with the
// held claims' poll given (0: the default; an hour also holds claims up to an hour), and
// registers agents edge-1 ... edge-N.
func idleServer(t *testing.T, x *apiEstate, poll time.Duration, agents int) (*claimCounter, string, []*strhttp.Client) {
	t.Helper()
	counted := &claimCounter{Store: x.store}
	e := *x.engine
	e.Store = counted
	_, url := x.serveWith(&e, 0, func(c *strhttp.Config) {
		c.AgentPoll = poll
		if poll >= time.Hour {
			c.AgentWait = poll
		}
	})
	var cs []*strhttp.Client
	for i := range agents {
		c, err := strhttp.NewClient(url, x.tokens["agnes"])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Register(t.Context(), strhttp.AgentHello{Name: agentName(i), Pool: "edge", Protocol: strata.AgentProtocol}); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return counted, url, cs
}

func agentName(i int) string { return "edge-" + string(rune('1'+i)) }

// claimAll holds one claim of each agent, of wait, and returns what each got.
func claimAll(ctx context.Context, cs []*strhttp.Client, wait time.Duration) []chan *strhttp.Claimed {
	var got []chan *strhttp.Claimed
	for i, c := range cs {
		ch := make(chan *strhttp.Claimed, 1)
		got = append(got, ch)
		go func() {
			claimed, _ := c.Claim(ctx, strhttp.ClaimRequest{Name: agentName(i), Pool: "edge", WaitSeconds: wait.Seconds(),
				Kinds: []string{strhttp.ClaimDeploy, strhttp.ClaimRun, strhttp.ClaimDestroy, strhttp.ClaimObserve}})
			ch <- claimed
		}()
	}
	return got
}

// TestAnIdleServerLooksAtTheStoreSeldom holds a claim of each of 4 agents on a server with
// nothing to run, and counts the store calls the claims make; then queues a deployment on
// that server, whose held claims take it by a wake-up, not by their poll.
func TestAnIdleServerLooksAtTheStoreSeldom(t *testing.T) {
	const agents, wait = 4, 3 * time.Second
	x := newAPIEstate(t, nextYAML)
	if _, err := x.as("alice").Release(t.Context(), "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	t.Run("a held claim looks when it begins, at each poll and when it ends", func(t *testing.T) {
		counted, _, cs := idleServer(t, x, 0, agents)
		before := counted.n.Load()
		var wg sync.WaitGroup
		for _, ch := range claimAll(t.Context(), cs, wait) {
			wg.Go(func() {
				if c := <-ch; c == nil || c.Job != nil {
					t.Errorf("claim %+v, want nothing", c)
				}
			})
		}
		wg.Wait()
		calls := counted.n.Load() - before
		// Each claim looks for deployments and for task runs when it begins, at each poll
		// that comes before its end, and at its end; and writes its agent's last-seen once.
		// A slow machine only makes fewer polls.
		looks := int64(2 + wait/strhttp.DefaultAgentPoll)
		if limit := agents * (2*looks + 1); calls > limit {
			t.Errorf("%d store calls by %d agents' claims of %s, want at most %d", calls, agents, wait, limit)
		}
		t.Logf("%d store calls by %d agents' claims of %s, polling every %s", calls, agents, wait, strhttp.DefaultAgentPoll)
	})
	t.Run("a deployment queued on the server is taken by a held claim at once", func(t *testing.T) {
		// Polls and claims an hour long: only the wake-up of the deployment's queueing can
		// hand it out before the test's bound (a claim also looks as it ends).
		counted, url, cs := idleServer(t, x, time.Hour, agents)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		before := counted.n.Load()
		held := claimAll(ctx, cs, time.Hour)
		waitFor(t, "the agents' claims to look once", func() bool { return counted.n.Load()-before >= agents*3 })
		// Asked of the server, whose engine queues it for the pool and waits for it.
		deployed := make(chan error, 1)
		go func() {
			req, err := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/deployments",
				strings.NewReader(`{"service": "api", "version": "1.0.0", "env": "edge-a"}`))
			if err == nil {
				req.Header.Set("Authorization", "Bearer "+x.tokens["alice"])
				var resp *http.Response
				if resp, err = http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("POST /api/v1/deployments: %s", resp.Status)
					}
				}
			}
			deployed <- err
		}()
		var claimed *strhttp.Claimed
		var by int
		for claimed == nil {
			select {
			case c := <-held[0]:
				claimed, by = c, 0
			case c := <-held[1]:
				claimed, by = c, 1
			case c := <-held[2]:
				claimed, by = c, 2
			case c := <-held[3]:
				claimed, by = c, 3
			case err := <-deployed:
				t.Fatalf("the deployment ended before an agent claimed it: %v", err)
			case <-time.After(30 * time.Second): // the bound of a hung test: polls and claims' ends are an hour away
				t.Fatal("no held claim took the deployment: its queueing did not wake them")
			}
			if claimed == nil || claimed.Job == nil {
				t.Fatalf("a held claim ended with %+v, not the deployment", claimed)
			}
		}
		if err := cs[by].Report(ctx, strhttp.AgentReport{Name: agentName(by), Pool: "edge", Deployment: claimed.Deployment, Fence: claimed.Fence, State: strata.Succeeded}); err != nil {
			t.Fatal(err)
		}
		if err := <-deployed; err != nil {
			t.Errorf("deploy: %v", err)
		}
	})
}
