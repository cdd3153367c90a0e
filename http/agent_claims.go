package http

import (
	"context"
	"sync"

	"github.com/strata-dev/strata"
)

// What the agents' claims cost the server, cut (bench/README.md, issue 11 point 7): a
// token's coverage of a pool is worked out once per project and token, not on every claim
// (matching 1,000 environments against the token's selectors each time), and the claims
// held open for one pool, all woken by one pending deployment, take turns: once one of them
// has found nothing since that wake-up, the others go back to waiting without a write
// transaction each.

// poolShare is a token's share of a pool: the environments it covers, and whether that is
// all of them.
type poolShare struct {
	envs []string
	all  bool
}

// coverageKey names a coverage: the project snapshot (a new one, after a change, is worked
// out afresh), the token (by its hash: a token's selectors never change, and a revoked one
// is refused before this) and the pool.
type coverageKey struct {
	p          *strata.Project
	hash, pool string
}

// maxCoverages bounds the cache: a server serves few tokens and pools.
const maxCoverages = 1024

// coverages caches the coverages of allowed tokens; a refusal is never cached, so that each
// is audited.
type coverages struct {
	mu sync.Mutex
	p  *strata.Project // the snapshot the cached coverages are of
	m  map[coverageKey]poolShare
}

func (cs *coverages) get(k coverageKey) (poolShare, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.m[k]
	return c, ok
}

func (cs *coverages) put(k coverageKey, c poolShare) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.p != k.p || len(cs.m) >= maxCoverages {
		cs.p, cs.m = k.p, map[coverageKey]poolShare{}
	}
	cs.m[k] = c
}

// claimGate is where the held claims of one pool and token take turns.
type claimGate struct {
	mu sync.Mutex
	// empty is the newest wake-up generation (engine.Signal.Seq) that a claim which began
	// after it found nothing for: a deployment made pending after that claim's look wakes
	// a later generation.
	empty uint64
}

// claimGates are the server's gates, by pool and token hash.
type claimGates struct {
	mu sync.Mutex
	m  map[[2]string]*claimGate
}

func (gs *claimGates) gate(pool, hash string) *claimGate {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.m == nil {
		gs.m = map[[2]string]*claimGate{}
	}
	k := [2]string{pool, hash}
	g := gs.m[k]
	if g == nil {
		g = &claimGate{}
		gs.m[k] = g
	}
	return g
}

// try runs claim, a claim's look for a job, unless woken (the claim was woken by generation
// gen rather than by its poll) and another claim has found nothing since gen began: then it
// reports skipped. A look that finds nothing (ENOTFOUND) records gen.
func (g *claimGate) try(woken bool, gen uint64, claim func() (*Claimed, error)) (c *Claimed, skipped bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if woken && g.empty >= gen {
		return nil, true, nil
	}
	c, err = claim()
	if strata.ErrorCode(err) == strata.ENOTFOUND && gen > g.empty {
		g.empty = gen
	}
	return c, false, err
}

// listenQueues wakes the claims held on this server whenever another process on the store
// (a CLI, another server) queues work for agents, until ctx ends: without it they would
// find that work at their next poll. The poll stays, for a word lost with its connection.
func (s *Server) listenQueues(ctx context.Context, qw strata.QueueWaker) {
	if err := qw.ListenQueues(ctx, s.engine.Wakes.Pending.Wake); err != nil {
		s.log.Warn("not listening for work queued by other processes; held claims find it at their poll", "err", err)
	}
}
