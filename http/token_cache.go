package http

import (
	"sync"
	"time"

	"github.com/strata-dev/strata"
)

// The tokens of machines that call often are trusted for a second after a look-up: an
// agent makes several requests per deployment and an application evaluates flags on every
// request, and looking the token up in the store each time was the biggest single cost of
// an agent's request after the work itself (bench/README.md, issue 11 point 7). A token is
// revoked in the store, by any process that shares it (`strata token revoke`), and no
// server is told; so a revoked agent or client token stops working on every server within
// CachedTokenTTL, and a server that has not looked it up within that time refuses it at
// once. The tokens people use (viewer, deployer, approver, admin) and dashboard sessions
// are looked up on every request and stop working at once.

// CachedTokenTTL is how long a server trusts an agent or client token it looked up before
// it asks the store again: the longest a revoked one still works.
const CachedTokenTTL = time.Second

// maxCachedTokens bounds the cache; past it the cache starts over.
const maxCachedTokens = 10000

// cachesRole reports whether tokens of role are trusted for CachedTokenTTL.
func cachesRole(role string) bool { return role == strata.RoleAgent || role == strata.RoleClient }

// tokenCache holds the agent and client tokens a server looked up, by hash, and when.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

// cachedToken is a token found valid, and when.
type cachedToken struct {
	t  *strata.Token
	at time.Time
}

// get returns the token of hash when it was looked up less than CachedTokenTTL before now
// (and not after now: a clock that went back trusts nothing).
func (c *tokenCache) get(hash string, now time.Time) (*strata.Token, bool) {
	c.mu.Lock()
	ct, ok := c.m[hash]
	c.mu.Unlock()
	if !ok || now.Before(ct.at) || now.Sub(ct.at) >= CachedTokenTTL {
		return nil, false
	}
	return ct.t, true
}

// put keeps t, found valid at now, when its role is one that is cached.
func (c *tokenCache) put(hash string, t *strata.Token, now time.Time) {
	if !cachesRole(t.Role) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedTokens {
		c.m = map[string]cachedToken{}
	}
	c.m[hash] = cachedToken{t: t, at: now}
}
