package http

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientKey holds, in a request's context, the client address logRequests resolved, so that
// the limiter and every log line read the same one.
type clientKey struct{}

// withClient returns r carrying the address of the client that made it.
func (s *Server) withClient(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), clientKey{}, resolveClient(r, s.cfg.TrustedProxies)))
}

// client is the address of the client that made r, without a port: as logRequests resolved
// it, or the connection's when r did not pass through it.
func client(r *http.Request) string {
	if c, ok := r.Context().Value(clientKey{}).(string); ok {
		return c
	}
	return connHost(r)
}

// connHost is the host of r's connection: its IP, or RemoteAddr as it is when that has no
// port to split off.
func connHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// resolveClient says who made r. A connection from a trusted proxy speaks for the client in
// X-Forwarded-For: each proxy appends the address it was reached from, so reading from the
// right, past the addresses of trusted proxies, the first address that is not trusted is
// the client's (what lies left of it was written by the client or its proxies, and anyone
// can write it). When every address is trusted, the leftmost is the client. A missing or
// malformed header leaves the proxy's own address: nothing in it can be believed. Any other
// connection is its own client, whatever it sends.
func resolveClient(r *http.Request, trusted []netip.Prefix) string {
	host := connHost(r)
	if len(trusted) == 0 {
		return host
	}
	proxy, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(proxy, trusted) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	if len(hops) == 0 {
		return host
	}
	var c netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		var ok bool
		if c, ok = parseHop(hops[i]); !ok {
			return host
		}
		if !isTrusted(c, trusted) {
			break
		}
	}
	return c.String()
}

// parseHop reads one address of X-Forwarded-For: an IP, which some proxies write with a port
// (192.0.2.1:443, [2001:db8::1]:443) or in brackets ([2001:db8::1]).
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	ip, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr == nil {
			ip, err = ap.Addr(), nil
		} else if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
			ip, err = netip.ParseAddr(s[1 : len(s)-1])
		}
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap().WithZone(""), true
}

// isTrusted says whether ip is inside one of the trusted prefixes, which normalizeProxies
// has made IPv4 where they could be.
func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// normalizeProxies checks the trusted prefixes and returns them masked, an IPv4-mapped IPv6
// prefix (::ffff:10.0.0.0/104) as the IPv4 one it stands for, since addresses are compared
// in IPv4 form.
func normalizeProxies(ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() {
			return nil, fmt.Errorf("trusted proxy %s: not a valid address prefix", p)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
