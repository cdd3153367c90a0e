package http

import (
	"container/list"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/strata-dev/strata"
)

// RateLimit is a token bucket: up to Burst events at once, then one more each Every.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// DefaultAuthFailures is how fast one client address may fail to authenticate: ten failures
// at once, then one a second.
//
// A token holds 256 random bits, so no rate makes guessing one possible; the limit is about
// cost, since each failure is a store read and a log line. Ten is more than a person mistyping
// or a script holding a stale token fails in a row, so they are not slowed; one a second is
// nothing to the store, and is what a flood of thousands a second is cut to. An address that
// stops failing has its ten back ten seconds later.
var DefaultAuthFailures = RateLimit{Burst: 10, Every: time.Second}

const (
	// maxTrackedAddrs bounds the client addresses whose failures are remembered (a couple
	// of hundred bytes each with its map and list entries, so a few megabytes at most). An
	// address is forgotten once its bucket has refilled, so at the defaults the cap is
	// reached only by more than a thousand addresses failing each second; past it, the
	// address that failed longest ago is forgotten first.
	maxTrackedAddrs = 10_000
	// maxKnownTokens bounds the hashes of tokens remembered as having authenticated.
	maxKnownTokens = 10_000
	// knownFor is how long a token that authenticated stays known without authenticating
	// again: long enough to span a working day of a CI job or a dashboard session.
	knownFor = 24 * time.Hour
)

// authLimiter limits failed authentication per client address, so that a flood of bad
// tokens costs neither a store read each nor a log line each. A token that authenticated
// on this server before (known) is looked up even from a throttled address: clients that
// share an address with a flood (behind one NAT or proxy) keep working, and since nobody can
// guess a known token's hash, letting those through lets no guess through. A nil
// authLimiter limits nothing.
type authLimiter struct {
	limit RateLimit
	now   func() time.Time
	log   *slog.Logger

	mu    sync.Mutex
	addrs *recent[bucket]   // client address -> its failures
	known *recent[struct{}] // token hash -> it authenticated
}

// bucket is one client address's failures.
type bucket struct {
	tokens float64   // failures the address may still make, refilled up to Burst
	at     time.Time // when tokens was last refilled
	// throttled is set when the address is refused, and cleared when an attempt is let
	// through again: each stretch of refusals is logged once, not each refusal.
	throttled bool
}

func newAuthLimiter(limit RateLimit, now func() time.Time, log *slog.Logger) *authLimiter {
	if limit.Burst <= 0 || limit.Every <= 0 {
		limit = DefaultAuthFailures
	}
	return &authLimiter{limit: limit, now: now, log: log,
		addrs: newRecent[bucket](time.Duration(limit.Burst)*limit.Every, maxTrackedAddrs),
		known: newRecent[struct{}](knownFor, maxKnownTokens)}
}

// retryAfter is the Retry-After value of a wait: whole seconds, at least one.
func retryAfter(wait time.Duration) int { return max(1, int(math.Ceil(wait.Seconds()))) }

// seconds says n seconds in words.
func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

// attempt is one token look-up the limiter let through; its outcome is reported with done.
type attempt struct {
	l          *authLimiter
	addr, hash string
	// reserved is set when the attempt took a failure from the address's bucket before the
	// look-up (concurrent attempts then cannot overdraw it); a success gives it back.
	reserved bool
}

// admit is asked before a token the client supplied (hash) is looked up. It returns the
// attempt to report the look-up to, or a throttled error when the token is not known and r's
// address has no failures left.
func (l *authLimiter) admit(r *http.Request, hash string) (*attempt, error) {
	if l == nil {
		return nil, nil
	}
	addr := clientAddr(r)
	now := l.now()
	l.mu.Lock()
	if l.known.get(hash, now) != nil {
		l.mu.Unlock()
		return &attempt{l: l, addr: addr, hash: hash}, nil
	}
	b := l.bucket(addr, now)
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) * float64(l.limit.Every))
		first := !b.throttled
		b.throttled = true
		l.mu.Unlock()
		secs := retryAfter(wait)
		if first {
			l.log.Warn("authentication throttled: too many failed attempts", "remote", addr, "retry_after_s", secs)
		}
		return nil, throttled{strata.Errorf(strata.EUNAUTHORIZED, "too many failed authentication attempts from %s; try again in %s", addr, seconds(secs)), wait}
	}
	b.tokens--
	b.throttled = false
	l.mu.Unlock()
	return &attempt{l: l, addr: addr, hash: hash, reserved: true}, nil
}

// done reports the look-up's outcome. Success gives back what the attempt reserved and
// remembers the token as known; EUNAUTHORIZED (unknown or revoked) counts as a failure and
// forgets the token; any other error (the store did not answer) is not the client's failure.
func (a *attempt) done(err error) {
	if a == nil {
		return
	}
	l := a.l
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		l.known.touch(a.hash, now)
		l.giveBack(a, now)
	case strata.ErrorCode(err) == strata.EUNAUTHORIZED:
		l.known.remove(a.hash)
		if !a.reserved {
			b := l.bucket(a.addr, now)
			b.tokens = max(0, b.tokens-1)
		}
	default:
		l.giveBack(a, now)
	}
}

// bucket returns addr's bucket, refilled to now, making a full one when there is none.
// l.mu is held.
func (l *authLimiter) bucket(addr string, now time.Time) *bucket {
	b, fresh := l.addrs.touch(addr, now)
	if fresh {
		b.tokens, b.at = float64(l.limit.Burst), now
		return b
	}
	if gained := now.Sub(b.at); gained > 0 {
		b.tokens = min(float64(l.limit.Burst), b.tokens+float64(gained)/float64(l.limit.Every))
	}
	b.at = now
	return b
}

// giveBack returns what a attempted to its address's bucket, and forgets a full bucket.
// l.mu is held.
func (l *authLimiter) giveBack(a *attempt, now time.Time) {
	if !a.reserved || l.addrs.get(a.addr, now) == nil {
		return
	}
	b := l.bucket(a.addr, now)
	if b.tokens++; b.tokens >= float64(l.limit.Burst) {
		l.addrs.remove(a.addr)
	}
}

// clientAddr is the address r's failures count against: the client's IP (client), which is
// the connection's unless it comes from a trusted proxy. An IPv6 address counts by its /64,
// which one host commonly holds whole.
func clientAddr(r *http.Request) string {
	host := client(r)
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

// recent is a map whose entries expire ttl after they were last touched and which holds at
// most max of them, forgetting the least recently touched first. It is not safe for
// concurrent use.
type recent[V any] struct {
	ttl   time.Duration
	max   int
	m     map[string]*list.Element
	order list.List // of *recentItem[V], most recently touched first
}

type recentItem[V any] struct {
	key string
	at  time.Time
	v   V
}

func newRecent[V any](ttl time.Duration, max int) *recent[V] {
	return &recent[V]{ttl: ttl, max: max, m: map[string]*list.Element{}}
}

// get returns key's value, nil when it is missing or expired.
func (c *recent[V]) get(key string, now time.Time) *V {
	e := c.m[key]
	if e == nil {
		return nil
	}
	it := e.Value.(*recentItem[V])
	if now.Sub(it.at) >= c.ttl {
		c.drop(e)
		return nil
	}
	return &it.v
}

// touch returns key's value, a zero one (fresh) when it was missing or expired, and marks it
// used now. It drops the expired entries first and, when the map is full, the least
// recently touched.
func (c *recent[V]) touch(key string, now time.Time) (v *V, fresh bool) {
	for e := c.order.Back(); e != nil && now.Sub(e.Value.(*recentItem[V]).at) >= c.ttl; e = c.order.Back() {
		c.drop(e)
	}
	if e := c.m[key]; e != nil {
		it := e.Value.(*recentItem[V])
		it.at = now
		c.order.MoveToFront(e)
		return &it.v, false
	}
	for len(c.m) >= c.max {
		c.drop(c.order.Back())
	}
	it := &recentItem[V]{key: key, at: now}
	c.m[key] = c.order.PushFront(it)
	return &it.v, true
}

// remove forgets key.
func (c *recent[V]) remove(key string) {
	if e := c.m[key]; e != nil {
		c.drop(e)
	}
}

// len is how many entries the map holds, expired ones not yet dropped included.
func (c *recent[V]) len() int { return len(c.m) }

func (c *recent[V]) drop(e *list.Element) {
	delete(c.m, e.Value.(*recentItem[V]).key)
	c.order.Remove(e)
}
