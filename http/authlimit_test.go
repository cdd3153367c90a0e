package http_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	strhttp "github.com/strata-dev/strata/http"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lookupCounter counts the store's token look-ups, to show a throttled attempt costs none.
type lookupCounter struct {
	strata.Store
	n atomic.Int64
}

func (s *lookupCounter) TokenByHash(ctx context.Context, hash string) (*strata.Token, error) {
	s.n.Add(1)
	return s.Store.TokenByHash(ctx, hash)
}

// clientFrom returns an HTTP client whose connections come from the loopback address ip,
// so that one test can be two clients. It skips the test where the system does not route
// all of 127.0.0.0/8 to loopback.
func clientFrom(t *testing.T, ip, server string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(server, "http://"))
	if err != nil {
		t.Skipf("cannot connect from %s: %v", ip, err)
	}
	c.Close()
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// get sends GET path with a bearer token ("" for none) and returns the response, read.
func get(t *testing.T, c *http.Client, base, path, token string) reply {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: string(b)}
}

// TestFailedAuthIsThrottled: an address that sends bad bearer tokens gets ten 401s, then
// 429 with Retry-After and no look-up, until its bucket refills at one a second. Tokens
// that have authenticated on the server keep working from that address; another address is
// not affected.
func TestFailedAuthIsThrottled(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	clock := &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	counter := &lookupCounter{Store: x.store}
	e := *x.engine
	e.Now, e.Store = clock.now, counter
	_, base := x.serve(&e, 0)
	here := clientFrom(t, "127.0.0.1", base)
	there := clientFrom(t, "127.0.0.2", base)
	bad := func() string { return "strata_" + randomHex(26) }
	const path = "/api/v1/environments"

	if r := get(t, here, base, path, x.tokens["victor"]); r.status != http.StatusOK {
		t.Fatalf("victor before any failure: status %d: %s", r.status, r.body)
	}
	events, err := x.store.Events(t.Context(), strata.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("requests without a token or with a malformed header do not count", func(t *testing.T) {
		for range 20 {
			if r := get(t, here, base, path, ""); r.status != http.StatusUnauthorized {
				t.Fatalf("no token: status %d, want 401", r.status)
			}
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Basic dmljdG9yOnB3")
			res, err := here.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("malformed header: status %d, want 401", res.StatusCode)
			}
		}
	})
	t.Run("ten bad tokens in a row are each refused with 401", func(t *testing.T) {
		for i := range 10 {
			if r := get(t, here, base, path, bad()); r.status != http.StatusUnauthorized {
				t.Fatalf("bad token %d: status %d, want 401: %s", i+1, r.status, r.body)
			}
		}
	})
	t.Run("the next is 429 with Retry-After, in the API's error shape, and is not looked up", func(t *testing.T) {
		before := counter.n.Load()
		r := get(t, here, base, path, bad())
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
			t.Fatalf("status %d, Retry-After %q; want 429 and 1: %s", r.status, r.header.Get("Retry-After"), r.body)
		}
		if r.header.Get("Strata-Exit") != "4" || r.header.Get("Strata-Error-Code") != strata.EUNAUTHORIZED || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("headers %v, want Strata-Exit 4, code unauthorized, no Bearer challenge", r.header)
		}
		var doc struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil || doc.Error.Code != strata.EUNAUTHORIZED || !strings.Contains(doc.Error.Message, "too many failed authentication attempts from 127.0.0.1") {
			t.Errorf("body %s, want an unauthorized error saying why", r.body)
		}
		if got := counter.n.Load() - before; got != 0 {
			t.Errorf("%d token look-ups, want none", got)
		}
	})
	t.Run("a token that authenticated before still works from the throttled address", func(t *testing.T) {
		if r := get(t, here, base, path, x.tokens["victor"]); r.status != http.StatusOK {
			t.Fatalf("status %d, want 200: %s", r.status, r.body)
		}
	})
	t.Run("a good token this server has not seen is refused from the throttled address like a bad one", func(t *testing.T) {
		if r := get(t, here, base, path, x.tokens["alice"]); r.status != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429: %s", r.status, r.body)
		}
	})
	t.Run("another address is not throttled: a good token works and a bad one is 401", func(t *testing.T) {
		if r := get(t, there, base, path, x.tokens["alice"]); r.status != http.StatusOK {
			t.Fatalf("alice from 127.0.0.2: status %d, want 200: %s", r.status, r.body)
		}
		if r := get(t, there, base, path, bad()); r.status != http.StatusUnauthorized {
			t.Fatalf("a bad token from 127.0.0.2: status %d, want 401", r.status)
		}
	})
	t.Run("once it has authenticated anywhere, the token works from the throttled address too", func(t *testing.T) {
		if r := get(t, here, base, path, x.tokens["alice"]); r.status != http.StatusOK {
			t.Fatalf("status %d, want 200: %s", r.status, r.body)
		}
	})
	t.Run("the throttling is logged once and nothing is added to the audit log", func(t *testing.T) {
		for range 5 {
			get(t, here, base, path, bad())
		}
		if n := strings.Count(x.log.String(), "authentication throttled"); n != 1 {
			t.Errorf("%d log lines say the address was throttled, want 1", n)
		}
		after, err := x.store.Events(t.Context(), strata.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(events) {
			t.Errorf("%d audit events were added, want none", len(after)-len(events))
		}
	})
	t.Run("a flood of bad tokens at once is looked up ten times, not once each", func(t *testing.T) {
		third := clientFrom(t, "127.0.0.3", base)
		before := counter.n.Load()
		var wg sync.WaitGroup
		var refused, throttled atomic.Int64
		for range 50 {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", base+path, nil)
				req.Header.Set("Authorization", "Bearer "+bad())
				res, err := third.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusUnauthorized:
					refused.Add(1)
				case http.StatusTooManyRequests:
					throttled.Add(1)
				}
			})
		}
		wg.Wait()
		if refused.Load() != 10 || throttled.Load() != 40 || counter.n.Load()-before != 10 {
			t.Errorf("%d refused, %d throttled, %d looked up; want 10, 40 and 10", refused.Load(), throttled.Load(), counter.n.Load()-before)
		}
	})
	t.Run("a second later the address may try once more", func(t *testing.T) {
		clock.advance(time.Second)
		if r := get(t, here, base, path, bad()); r.status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", r.status)
		}
		if r := get(t, here, base, path, bad()); r.status != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", r.status)
		}
	})
	t.Run("ten seconds after its last failure the address has all ten back", func(t *testing.T) {
		clock.advance(10 * time.Second)
		for i := range 10 {
			if r := get(t, here, base, path, bad()); r.status != http.StatusUnauthorized {
				t.Fatalf("bad token %d: status %d, want 401", i+1, r.status)
			}
		}
		if r := get(t, here, base, path, bad()); r.status != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", r.status)
		}
	})
}

// TestFailedLoginsAreThrottled: the login form counts against the same budget as the API's
// bearer tokens, and an address out of it is shown why, with 429 and Retry-After.
func TestFailedLoginsAreThrottled(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	clock := &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	e := *x.engine
	e.Now = clock.now
	s, err := strhttp.New(strhttp.Config{Engine: &e, Logger: slog.New(slog.NewTextHandler(x.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	b := x.browser(t)
	b.url = srv.URL

	for i := range 10 {
		if res, _ := b.loginWith("strata_" + randomHex(26)); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad login %d: status %d, want 401", i+1, res.StatusCode)
		}
	}
	t.Run("the next login is 429 with Retry-After and a message that says to wait", func(t *testing.T) {
		res, page := b.loginWith("strata_" + randomHex(26))
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" {
			t.Fatalf("status %d, Retry-After %q; want 429 and 1", res.StatusCode, res.Header.Get("Retry-After"))
		}
		if !strings.Contains(page, `id="login-error">Too many failed logins from your address. Wait 1 second and try again.<`) {
			t.Fatalf("the page does not say why:\n%s", page)
		}
		if !strings.Contains(page, `name="csrf"`) {
			t.Fatal("the page has no login form to try again with")
		}
	})
	t.Run("the API's bearer tokens share the budget", func(t *testing.T) {
		if r := get(t, http.DefaultClient, srv.URL, "/api/v1/status", "strata_"+randomHex(26)); r.status != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", r.status)
		}
	})
	t.Run("a second later a good token logs in", func(t *testing.T) {
		clock.advance(time.Second)
		if res, _ := b.loginWith(x.tokens["victor"]); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", res.StatusCode)
		}
	})
}
