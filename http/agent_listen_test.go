package http_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testpg"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/internal/syncbuf"
	"github.com/strata-dev/strata/postgres"
)

// openPG opens the store at u, closed when t ends.
func openPG(t *testing.T, u string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// listenCounter is a claimCounter that is still a strata.QueueWaker, as its store is, and
// counts the starts and words of the server's listening.
type listenCounter struct {
	*claimCounter
	qw    strata.QueueWaker
	heard atomic.Int64
}

func (s *listenCounter) WakeQueues(ctx context.Context) error { return s.qw.WakeQueues(ctx) }

func (s *listenCounter) ListenQueues(ctx context.Context, woken func()) error {
	return s.qw.ListenQueues(ctx, func() { s.heard.Add(1); woken() })
}

// TestWorkQueuedByAnotherProcessWakesAHeldClaim holds an agent's claim on a server on
// PostgreSQL whose poll, and the claim itself, are an hour, and deploys through a second store handle on the same
// schema (another process's view, as a CLI on the store has): the held claim takes the
// deployment at once, woken by the store's word, not by its poll.
func TestWorkQueuedByAnotherProcessWakesAHeldClaim(t *testing.T) {
	u := testpg.Schema(t)
	served, other := openPG(t, u), openPG(t, u)
	dir := writeProject(t, nextYAML)
	random, _ := strata.NewTokenSecret()
	x := &apiEstate{t: t, dir: dir, store: served, secret: "pw" + random[len("strata_"):len("strata_")+24], log: &syncbuf.Buffer{}}
	x.engine = x.newEngine(served)
	x.tokens = makeTokens(t, served, apiTokens)
	if _, err := x.as("alice").Release(t.Context(), "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	counted := &listenCounter{claimCounter: &claimCounter{Store: served}, qw: served}
	e := *x.engine
	e.Store = counted
	_, srvURL := x.serveWith(&e, 0, func(c *strhttp.Config) { c.AgentPoll, c.AgentWait = time.Hour, time.Hour })
	c, err := strhttp.NewClient(srvURL, x.tokens["agnes"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(t.Context(), strhttp.AgentHello{Name: agentName(0), Pool: "edge", Protocol: strata.AgentProtocol}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	before := counted.n.Load()
	held := claimAll(ctx, []*strhttp.Client{c}, time.Hour)
	waitFor(t, "the server listens for other processes' work", func() bool { return counted.heard.Load() >= 1 })
	waitFor(t, "the agent's claim to look once", func() bool { return counted.n.Load()-before >= 3 })

	// Another process's engine, on its own handle of the store, queues the deployment for
	// the pool and waits for the agent's report.
	cli := engine.New(loadProject(t, dir), other, "alice")
	cli.StateDir = t.TempDir()
	deployed := make(chan error, 1)
	go func() {
		_, err := cli.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "1.0.0", Env: "edge-a"})
		deployed <- err
	}()
	var claimed *strhttp.Claimed
	select {
	case claimed = <-held[0]:
	case err := <-deployed:
		t.Fatalf("the deployment ended before an agent claimed it: %v", err)
	case <-time.After(30 * time.Second): // the bound of a hung test: the claim's poll and end are an hour away
		t.Fatal("the held claim did not take the deployment queued by another process")
	}
	if claimed == nil || claimed.Job == nil {
		t.Fatalf("the held claim ended with %+v, not the deployment", claimed)
	}
	if err := c.Report(ctx, strhttp.AgentReport{Name: agentName(0), Pool: "edge", Deployment: claimed.Deployment, Fence: claimed.Fence, State: strata.Succeeded}); err != nil {
		t.Fatal(err)
	}
	if err := <-deployed; err != nil {
		t.Errorf("deploy: %v", err)
	}
}
