package http

import (
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// These tests look inside the limiter: how much it remembers is not visible from outside.

func TestClientAddr(t *testing.T) {
	cases := []struct {
		name, remote, forwarded, want string
	}{
		{"an IPv4 address counts by itself", "192.0.2.7:40000", "", "192.0.2.7"},
		{"X-Forwarded-For is not trusted", "192.0.2.7:40000", "198.51.100.1", "192.0.2.7"},
		{"an IPv4-mapped IPv6 address counts as its IPv4 address", "[::ffff:192.0.2.7]:40000", "", "192.0.2.7"},
		{"an IPv6 address counts by its /64", "[2001:db8:1:2:aaaa::1]:40000", "", "2001:db8:1:2::/64"},
		{"another address of the same /64 counts with it", "[2001:db8:1:2:bbbb::9]:40000", "", "2001:db8:1:2::/64"},
		{"a zoned link-local address counts by its /64", "[fe80::1%eth0]:40000", "", "fe80::/64"},
		{"an address that is not IP counts as it is", "@", "", "@"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
			if c.forwarded != "" {
				r.Header.Set("X-Forwarded-For", c.forwarded)
			}
			if got := clientAddr(r); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// fail makes one failed attempt from addr with a token nobody has.
func fail(t *testing.T, l *authLimiter, addr string) error {
	t.Helper()
	at, err := l.admit(&http.Request{RemoteAddr: addr + ":1"}, "a hash no token has")
	if err != nil {
		return err
	}
	at.done(strata.Errorf(strata.EUNAUTHORIZED, "unknown or revoked token"))
	return nil
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	newLimiter := func() *authLimiter {
		return newAuthLimiter(RateLimit{}, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	}
	t.Run("an address whose bucket has refilled is forgotten", func(t *testing.T) {
		l := newLimiter()
		for range 3 {
			fail(t, l, "192.0.2.1")
		}
		now = now.Add(10 * time.Second)
		fail(t, l, "192.0.2.2")
		if got := l.addrs.len(); got != 1 {
			t.Errorf("%d addresses tracked, want 1", got)
		}
	})
	t.Run("a success gives back what it reserved, and a full bucket is not kept", func(t *testing.T) {
		l := newLimiter()
		at, err := l.admit(&http.Request{RemoteAddr: "192.0.2.3:1"}, "good")
		if err != nil {
			t.Fatal(err)
		}
		at.done(nil)
		if got := l.addrs.len(); got != 0 {
			t.Errorf("%d addresses tracked, want 0", got)
		}
	})
	t.Run("no more than the cap of addresses is tracked, the one that failed longest ago going first", func(t *testing.T) {
		l := newLimiter()
		l.addrs.max = 100
		for range 10 {
			fail(t, l, "198.51.100.1") // throttled after these ten
		}
		if fail(t, l, "198.51.100.1") == nil {
			t.Fatal("the address was not throttled")
		}
		for i := range 150 {
			now = now.Add(time.Millisecond)
			fail(t, l, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		}
		if got := l.addrs.len(); got != 100 {
			t.Errorf("%d addresses tracked, want 100", got)
		}
		if l.addrs.get("198.51.100.1", now) != nil {
			t.Error("the address that failed longest ago is still tracked")
		}
	})
	t.Run("no more than the cap of known tokens is kept, and they expire", func(t *testing.T) {
		l := newLimiter()
		l.known.max = 10
		for i := range 25 {
			at, _ := l.admit(&http.Request{RemoteAddr: "192.0.2.4:1"}, fmt.Sprint("token-", i))
			at.done(nil)
		}
		if got := l.known.len(); got != 10 {
			t.Errorf("%d tokens known, want 10", got)
		}
		now = now.Add(knownFor)
		if l.known.get("token-24", now) != nil {
			t.Error("a token is known a day after it last authenticated")
		}
	})
}
