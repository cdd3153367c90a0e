package http_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	strhttp "github.com/strata-dev/strata/http"
)

// TestARevokedTokenStopsWorkingOnEveryServerWithinTheBound serves one store file from two
// servers, each on its own connection and an injected clock, and revokes tokens through a
// third connection (as `strata token revoke` does): an agent token each server trusted a
// moment ago stops working on both once CachedTokenTTL has passed on their clocks, without
// either being told; a person's token stops at once.
func TestARevokedTokenStopsWorkingOnEveryServerWithinTheBound(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	clock := &fakeClock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	counted := &lookupCounter{Store: openStore(t, x.dir)}
	var urls []string
	for _, st := range []strata.Store{counted, openStore(t, x.dir)} {
		e := x.newEngine(st)
		e.Now = clock.now
		_, url := x.serve(e, 0)
		urls = append(urls, url)
	}
	for name, tok := range makeTokens(t, x.store, []testToken{{"agatha", strata.RoleAgent, nil}, {"cora", strata.RoleAdmin, nil}}) {
		x.tokens[name] = tok
	}
	hello := map[string]any{"name": "edge-9", "pool": "edge", "version": "test", "protocol": strata.AgentProtocol}
	register := func(url string) int { return x.doAt(url, "agatha", "POST", "/api/v1/agent/register", hello).status }
	agents := func(url string) int { return x.doAt(url, "cora", "GET", "/api/v1/agents", nil).status }

	for _, url := range urls {
		if got := register(url); got != http.StatusOK {
			t.Fatalf("register at %s: %d, want 200", url, got)
		}
		if got := agents(url); got != http.StatusOK {
			t.Fatalf("list agents at %s: %d, want 200", url, got)
		}
	}
	t.Run("an agent token is looked up once per bound, not on every request", func(t *testing.T) {
		before := counted.n.Load()
		for range 5 {
			if got := register(urls[0]); got != http.StatusOK {
				t.Fatalf("register: %d", got)
			}
		}
		if got := counted.n.Load() - before; got != 0 {
			t.Errorf("%d look-ups of a token looked up within the bound, want 0", got)
		}
	})
	for _, name := range []string{"agatha", "cora"} {
		if err := x.store.RevokeToken(context.Background(), name, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("a revoked person's token is refused at once by every server", func(t *testing.T) {
		for _, url := range urls {
			if got := agents(url); got != http.StatusUnauthorized {
				t.Errorf("list agents at %s after the revocation: %d, want 401", url, got)
			}
		}
	})
	t.Run("a revoked agent token is refused by every server once the bound has passed", func(t *testing.T) {
		// Within the bound a server may still trust it: that is the documented cost.
		clock.advance(strhttp.CachedTokenTTL)
		for _, url := range urls {
			if got := register(url); got != http.StatusUnauthorized {
				t.Errorf("register at %s %s after the revocation: %d, want 401", url, strhttp.CachedTokenTTL, got)
			}
		}
	})
	t.Run("a clock that went back trusts nothing it cached", func(t *testing.T) {
		tok := makeTokens(t, x.store, []testToken{{"agnetha", strata.RoleAgent, nil}})
		x.tokens["agnetha"] = tok["agnetha"]
		if got := x.doAt(urls[0], "agnetha", "POST", "/api/v1/agent/register", hello).status; got != http.StatusOK {
			t.Fatalf("register: %d", got)
		}
		if err := x.store.RevokeToken(context.Background(), "agnetha", nil); err != nil {
			t.Fatal(err)
		}
		clock.advance(-time.Millisecond)
		if got := x.doAt(urls[0], "agnetha", "POST", "/api/v1/agent/register", hello).status; got != http.StatusUnauthorized {
			t.Errorf("register after the revocation, the clock 1ms back: %d, want 401", got)
		}
	})
}
