package flag

import (
	"context"
	"sync"
	"time"

	"github.com/strata-dev/strata"
)

// Source is what a Cache reads: the store's runtime states and counter, and what runs in
// an environment (service to version).
type Source interface {
	FlagsVersion(ctx context.Context) (int64, error)
	FlagStates(ctx context.Context, env string) ([]*strata.FlagState, error)
	Running(ctx context.Context, env string) (map[string]string, error)
}

// Cache keeps each environment's flags, resolved, in memory, so that an evaluation costs
// no store read. It asks the store's counter at most every Check, and reloads an
// environment's states only when the counter moved; what runs is read again every Check
// too (a rollback must turn a `requires` flag off by itself). So a change made through any
// server sharing the store is seen here within Check, plus one store read.
type Cache struct {
	Src   Source
	Now   func() time.Time
	Check time.Duration

	mu        sync.Mutex
	version   int64
	checkedAt time.Time
	envs      map[string]*Snapshot
}

// Snapshot is one environment's flags as of one read: resolved, with runtime changes
// applied, and what runs there. It is never changed once made.
type Snapshot struct {
	Project *strata.Project
	Flags   map[string]*Resolved
	Order   []*Resolved
	Running map[string]string
	Version int64
	at      time.Time

	// encoded keeps answers already encoded by Encoded: within one snapshot a result is
	// determined by its Key, Part, Literal, Reason and ErrorCode.
	mu      sync.RWMutex
	encoded map[resultKey][]byte
}

type resultKey struct {
	key, part, reason, errCode string
	literal                    int
}

// Encoded returns encode(res), made once per snapshot for each distinct result: a server
// answering thousands of evaluations a second encodes each answer once.
func (s *Snapshot) Encoded(res Result, encode func(Result) ([]byte, error)) ([]byte, error) {
	k := resultKey{res.Key, res.Part, res.Reason, res.ErrorCode, res.Literal}
	s.mu.RLock()
	b, ok := s.encoded[k]
	s.mu.RUnlock()
	if ok {
		return b, nil
	}
	b, err := encode(res)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.encoded == nil {
		s.encoded = map[resultKey][]byte{}
	}
	if len(s.encoded) < 1<<16 {
		s.encoded[k] = b
	}
	s.mu.Unlock()
	return b, nil
}

// DefaultCheck is how often a Cache asks the store whether flags changed: well inside the
// 2 s in which every server must see a change.
const DefaultCheck = 500 * time.Millisecond

// Env returns env's snapshot for project p, reading the store when the cached one is
// older than Check, was made for another project, or the counter moved.
func (c *Cache) Env(ctx context.Context, p *strata.Project, env *strata.Environment) (*Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	check := c.Check
	if check <= 0 {
		check = DefaultCheck
	}
	if c.envs == nil {
		c.envs = map[string]*Snapshot{}
	}
	if now.Sub(c.checkedAt) >= check || now.Before(c.checkedAt) {
		v, err := c.Src.FlagsVersion(ctx)
		if err != nil {
			return nil, err
		}
		if v != c.version {
			clear(c.envs)
			c.version = v
		}
		c.checkedAt = now
	}
	s := c.envs[env.Name]
	if s != nil && s.Project == p && now.Sub(s.at) < check && !now.Before(s.at) {
		return s, nil
	}
	states, err := c.Src.FlagStates(ctx, env.Name)
	if err != nil {
		return nil, err
	}
	running, err := c.Src.Running(ctx, env.Name)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*strata.FlagState{}
	for _, st := range states {
		byKey[st.Flag] = st
	}
	s = &Snapshot{Project: p, Flags: make(map[string]*Resolved, len(p.Flags)), Running: running, Version: c.version, at: now}
	for _, f := range p.Flags {
		r := Resolve(f, env).WithState(byKey[f.Key])
		s.Flags[f.Key] = r
		s.Order = append(s.Order, r)
	}
	c.envs[env.Name] = s
	return s, nil
}
