package http_test

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/internal/syncbuf"
)

// forwarding is a transport that sends X-Forwarded-For as a proxy in front of the server
// would: each of values is one header line (none sends no header).
type forwarding struct {
	base   http.RoundTripper
	values []string
}

func (f forwarding) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("X-Forwarded-For")
	for _, v := range f.values {
		r.Header.Add("X-Forwarded-For", v)
	}
	return f.base.RoundTrip(r)
}

// forwardedBy returns c sending X-Forwarded-For values.
func forwardedBy(c *http.Client, values ...string) *http.Client {
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	d := *c
	d.Transport = forwarding{base: base, values: values}
	return &d
}

// serveOn serves a server for e with cfg's trusted proxies on a fresh port of ip (skipping
// the test where ip cannot be listened on), logging into logs.
func serveOn(t *testing.T, ip string, e *engine.Engine, logs *syncbuf.Buffer, proxies ...string) string {
	t.Helper()
	cfg := strhttp.Config{Engine: e, Tick: time.Hour, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	for _, p := range proxies {
		cfg.TrustedProxies = append(cfg.TrustedProxies, netip.MustParsePrefix(p))
	}
	s, err := strhttp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// loggedRemote returns the client address the request log shows for the request of path.
func loggedRemote(t *testing.T, logs *syncbuf.Buffer, path string) string {
	t.Helper()
	m := regexp.MustCompile(`msg=request .*path=` + regexp.QuoteMeta(path) + ` .*remote=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no request line for %s in the log:\n%s", path, logs)
	}
	return m[1]
}

// TestTheClientAddressIsTheConnectionsUnlessATrustedProxyForwardsIt sends requests over real
// connections with X-Forwarded-For and reads, from the request log, whom the server took
// each to be from.
func TestTheClientAddressIsTheConnectionsUnlessATrustedProxyForwardsIt(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	logs := &syncbuf.Buffer{}
	trusted := []string{"127.0.0.1/32", "10.0.0.0/8", "::ffff:172.16.0.0/108", "::1/128"}
	base := serveOn(t, "127.0.0.1", x.engine, logs, trusted...)
	plain := serveOn(t, "127.0.0.1", x.engine, logs)
	clients := map[string]func(t *testing.T) (c *http.Client, url string){
		"a trusted proxy":     func(t *testing.T) (*http.Client, string) { return clientFrom(t, "127.0.0.1", base), base },
		"an untrusted client": func(t *testing.T) (*http.Client, string) { return clientFrom(t, "127.0.0.2", base), base },
		"a trusted IPv6 proxy": func(t *testing.T) (*http.Client, string) {
			v6 := serveOn(t, "::1", x.engine, logs, trusted...)
			return http.DefaultClient, v6
		},
		"a server that trusts no proxy": func(t *testing.T) (*http.Client, string) { return http.DefaultClient, plain },
	}
	cases := []struct {
		name, via string
		forwarded []string // header lines; nil sends none
		want      string
	}{
		{"a client that is not a trusted proxy cannot pick its address with the header", "an untrusted client", []string{"203.0.113.7"}, "127.0.0.2"},
		{"a server that trusts no proxy ignores the header", "a server that trusts no proxy", []string{"203.0.113.7"}, "127.0.0.1"},
		{"a trusted proxy's request without the header is the proxy's", "a trusted proxy", nil, "127.0.0.1"},
		{"through one trusted proxy the client is the address it forwards", "a trusted proxy", []string{"203.0.113.7"}, "203.0.113.7"},
		{"through two trusted proxies the client is the first untrusted address from the right", "a trusted proxy", []string{"203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
		{"what the client wrote left of its own address is ignored", "a trusted proxy", []string{"198.51.100.1, 203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
		{"when every address is trusted the leftmost is the client", "a trusted proxy", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"several header lines read as one list", "a trusted proxy", []string{"198.51.100.1, 203.0.113.7", "10.1.2.3"}, "203.0.113.7"},
		{"a hop inside a prefix written IPv4-mapped is trusted", "a trusted proxy", []string{"203.0.113.7, 172.16.5.5"}, "203.0.113.7"},
		{"a garbage header leaves the proxy's address", "a trusted proxy", []string{"not an address"}, "127.0.0.1"},
		{"garbage right of the client leaves the proxy's address", "a trusted proxy", []string{"203.0.113.7, bogus"}, "127.0.0.1"},
		{"garbage left of the client does not matter", "a trusted proxy", []string{"bogus, 203.0.113.7"}, "203.0.113.7"},
		{"an empty header leaves the proxy's address", "a trusted proxy", []string{""}, "127.0.0.1"},
		{"an empty entry leaves the proxy's address", "a trusted proxy", []string{"203.0.113.7, , 10.1.2.3"}, "127.0.0.1"},
		{"a forwarded address with a port is the address", "a trusted proxy", []string{"203.0.113.7:51234"}, "203.0.113.7"},
		{"a forwarded IPv6 address is the client", "a trusted proxy", []string{"2001:db8::7"}, "2001:db8::7"},
		{"a forwarded IPv6 address in brackets with a port is the address", "a trusted proxy", []string{"[2001:db8::7]:51234"}, "2001:db8::7"},
		{"a forwarded IPv6 address in brackets is the address", "a trusted proxy", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"a forwarded IPv4-mapped address is its IPv4 address", "a trusted proxy", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"a trusted proxy on IPv6 forwards as one on IPv4", "a trusted IPv6 proxy", []string{"203.0.113.7, ::1"}, "203.0.113.7"},
		{"a trusted IPv6 proxy's request without the header is the proxy's", "a trusted IPv6 proxy", nil, "::1"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, url := clients[c.via](t)
			path := "/probe/" + strconv.Itoa(i)
			res, err := forwardedBy(cl, c.forwarded...).Get(url + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := loggedRemote(t, logs, path); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

// TestFailedAuthCountsPerForwardedClient: behind a trusted proxy, each client the proxy
// forwards has its own budget of failures, and an untrusted client's header changes nothing.
func TestFailedAuthCountsPerForwardedClient(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	clock := &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	e := *x.engine
	e.Now = clock.now
	logs := &syncbuf.Buffer{}
	base := serveOn(t, "127.0.0.1", &e, logs, "127.0.0.1/32")
	proxy := clientFrom(t, "127.0.0.1", base)
	stranger := clientFrom(t, "127.0.0.2", base)
	bad := func() string { return "strata_" + randomHex(26) }
	const path = "/api/v1/environments"

	t.Run("a forwarded client gets ten 401s, then 429 naming it", func(t *testing.T) {
		first := forwardedBy(proxy, "203.0.113.1")
		for i := range 10 {
			if r := get(t, first, base, path, bad()); r.status != http.StatusUnauthorized {
				t.Fatalf("bad token %d: status %d, want 401: %s", i+1, r.status, r.body)
			}
		}
		r := get(t, first, base, path, bad())
		if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "too many failed authentication attempts from 203.0.113.1") {
			t.Fatalf("status %d, want 429 naming 203.0.113.1: %s", r.status, r.body)
		}
	})
	t.Run("another client behind the same proxy does not share the budget", func(t *testing.T) {
		second := forwardedBy(proxy, "203.0.113.2")
		if r := get(t, second, base, path, bad()); r.status != http.StatusUnauthorized {
			t.Fatalf("a bad token: status %d, want 401: %s", r.status, r.body)
		}
		if r := get(t, second, base, path, x.tokens["alice"]); r.status != http.StatusOK {
			t.Fatalf("a good token the server has not seen: status %d, want 200: %s", r.status, r.body)
		}
	})
	t.Run("the proxy's own requests do not share the budget", func(t *testing.T) {
		if r := get(t, proxy, base, path, bad()); r.status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401: %s", r.status, r.body)
		}
	})
	t.Run("an untrusted client counts by its connection whatever it forwards", func(t *testing.T) {
		for i := range 10 {
			liar := forwardedBy(stranger, "198.51.100."+strconv.Itoa(i))
			if r := get(t, liar, base, path, bad()); r.status != http.StatusUnauthorized {
				t.Fatalf("bad token %d: status %d, want 401: %s", i+1, r.status, r.body)
			}
		}
		r := get(t, forwardedBy(stranger, "198.51.100.99"), base, path, bad())
		if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "from 127.0.0.2") {
			t.Fatalf("status %d, want 429 naming 127.0.0.2: %s", r.status, r.body)
		}
		if r := get(t, forwardedBy(proxy, "198.51.100.0"), base, path, bad()); r.status != http.StatusUnauthorized {
			t.Fatalf("the client it named, through the proxy: status %d, want 401", r.status)
		}
	})
	t.Run("the throttling warning names the forwarded client", func(t *testing.T) {
		if !regexp.MustCompile(`authentication throttled.* remote=203\.0\.113\.1 `).MatchString(logs.String()) {
			t.Errorf("no throttling warning for 203.0.113.1 in the log:\n%s", logs)
		}
	})
}

// TestARefusedLoginLogsTheForwardedClient: the dashboard's "login refused" line names the
// client a trusted proxy forwarded, not the proxy.
func TestARefusedLoginLogsTheForwardedClient(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	logs := &syncbuf.Buffer{}
	b := x.browser(t)
	b.url = serveOn(t, "127.0.0.1", x.engine, logs, "127.0.0.1/32")
	b.c = forwardedBy(b.c, "198.51.100.7")
	if res, _ := b.loginWith("strata_" + randomHex(26)); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", res.StatusCode)
	}
	if !regexp.MustCompile(`msg="dashboard login refused" remote=198\.51\.100\.7\n`).MatchString(logs.String()) {
		t.Errorf("no refused login from 198.51.100.7 in the log:\n%s", logs)
	}
}

func TestNewRefusesAnInvalidTrustedProxy(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	_, err := strhttp.New(strhttp.Config{Engine: x.engine, TrustedProxies: []netip.Prefix{{}}})
	if err == nil || !strings.Contains(err.Error(), "trusted proxy") {
		t.Fatalf("got %v, want an error about the trusted proxy", err)
	}
}
