package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/internal/memlimit"
)

// minHealthInterval is the shortest --health-interval: shorter ones would keep the host busy
// re-running checks to no one's benefit (a nanosecond was accepted and spun).
const minHealthInterval = 100 * time.Millisecond

func (a *app) serveCommand() *cobra.Command {
	var listen string
	var tick, healthEvery time.Duration
	var proxies []string
	var tlsCert, tlsKey string
	var maxUpload int64
	var agentLease time.Duration
	var memLimit string
	c := &cobra.Command{
		Use:   "serve [--listen ADDR] [--tls-cert FILE --tls-key FILE] [--trusted-proxy CIDR]... [--health-interval D] [--max-upload MIB] [--memory-limit auto|off|SIZE]",
		Short: "Serve the HTTP API and web dashboard, and run the scheduler (default 127.0.0.1:7480)",
		Long: `serve runs Strata as a server for the project in DIR and its store: the JSON API that
every command has a route in (docs/api.md; the CLI uses it with --server and --token), the
web dashboard at /, /metrics and /healthz. Every request needs a token made with
` + "`strata token create`" + `; the token's name is the acting principal.

Every --tick it resumes interrupted deployments, starts waiting promotions whose gates have
opened (a window opened, a soak ended) and chains auto stages after them, and destroys
expired short-lived environments. Several servers may share one store: each piece of work
runs once. Webhooks (notify: in strata.yaml) are signed with $STRATA_WEBHOOK_SECRET.

Every --health-interval (default 1m, at least 100ms; 0 turns it off) it runs again the health check of what
runs in every environment, each pair at its own point of the interval and 16 at most at
once. A deployment whose check now fails shows "unhealthy" in status, the dashboard,
/metrics and drift, and webhooks hear "unhealthy" and then "recovered"; nothing is rolled
back by it.

Behind a reverse proxy, name it with --trusted-proxy (repeatable): a request from a trusted
proxy is from the client its X-Forwarded-For names, which is the address failed
authentication is limited by and the logs show, and its X-Forwarded-Proto says whether the
client used HTTPS. Without it, both headers are ignored.

With --tls-cert and --tls-key (PEM files) it serves HTTPS. Over HTTPS, or behind a trusted
proxy that says X-Forwarded-Proto: https, the dashboard's cookies are Secure and responses
carry Strict-Transport-Security.

Unless GOMEMLIMIT is set, serve gives Go's collector a soft memory limit (--memory-limit
auto): 150MiB, or the live heap and a half when that is more, so that a large estate
(10,000 environments) stays under 200 MB resident instead of letting the heap double before
each collection. --memory-limit off leaves Go's default; a size (1GiB) sets it outright.

Request logs go to stderr; it stops cleanly on SIGINT or SIGTERM.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tick <= 0 {
				return strata.Errorf(strata.EINVALID, "--tick %s: want a positive duration such as 5s", tick)
			}
			if healthEvery < 0 || healthEvery > 0 && healthEvery < minHealthInterval {
				return strata.Errorf(strata.EINVALID, "--health-interval %s: want a duration of at least %s such as 1m, or 0 to check health only when deploying", healthEvery, minHealthInterval)
			}
			if agentLease < 0 || agentLease > 0 && agentLease < 300*time.Millisecond {
				return strata.Errorf(strata.EINVALID, "--agent-lease %s: want a duration of at least 300ms such as 30s", agentLease)
			}
			if maxUpload <= 0 {
				return strata.Errorf(strata.EINVALID, "--max-upload %d: want a positive number of MiB such as 1024", maxUpload)
			}
			limit, err := memlimit.Parse(memLimit)
			if err != nil {
				return strata.Errorf(strata.EINVALID, "--memory-limit: %w", err)
			}
			trusted, err := parseTrustedProxies(proxies)
			if err != nil {
				return err
			}
			tlsConfig, err := strhttp.LoadTLS(tlsCert, tlsKey)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			e, err := a.engine(ctx)
			if err != nil {
				return err
			}
			var handler slog.Handler = slog.NewTextHandler(a.stderr, nil)
			if a.json() {
				handler = slog.NewJSONHandler(a.stderr, nil)
			}
			if set := memlimit.Apply(ctx, limit, cmd.Flags().Changed("memory-limit")); set != "" {
				slog.New(handler).Info("soft memory limit", "limit", set)
			}
			s, err := strhttp.New(strhttp.Config{
				Engine: e, Logger: slog.New(handler), Tick: tick, SchedulerActor: "scheduler",
				WebhookSecret: os.Getenv("STRATA_WEBHOOK_SECRET"), TrustedProxies: trusted, HealthInterval: healthEvery, TLS: tlsConfig,
				MaxUpload: maxUpload << 20, Version: version, AgentLease: agentLease,
			})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return strata.Errorf(strata.EINVALID, "cannot listen on %s: %w; choose another address with --listen", listen, err)
			}
			scheme := "http"
			if tlsConfig != nil {
				scheme = "https"
			}
			fmt.Fprintf(a.stderr, "strata: serving %s on %s://%s (dashboard /, API /api/v1/, scheduler every %s)\n", e.Project.Name, scheme, ln.Addr(), tick)
			if tlsConfig == nil && len(trusted) == 0 && !loopback(ln.Addr()) {
				fmt.Fprintf(a.stderr, "strata: warning: %s is reachable from other machines over plain HTTP: tokens and session cookies cross the network unencrypted; serve with --tls-cert and --tls-key, or behind a TLS proxy named with --trusted-proxy\n", ln.Addr())
			}
			return s.Serve(ctx, ln)
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:7480", "address to listen on (host:port; port 0 picks a free one)")
	c.Flags().DurationVar(&tick, "tick", 5*time.Second, "how often the scheduler looks for work")
	c.Flags().DurationVar(&healthEvery, "health-interval", strhttp.DefaultHealthInterval, "how often to check again the health of what runs in every environment (0: off)")
	c.Flags().StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate: a PEM `FILE` (the server's certificate, then intermediates); needs --tls-key")
	c.Flags().StringVar(&tlsKey, "tls-key", "", "the private key of --tls-cert: a PEM `FILE`")
	c.Flags().Int64Var(&maxUpload, "max-upload", engine.MaxUpload>>20, "the largest release bundle (release --artifact) a client may upload, in MiB")
	c.Flags().DurationVar(&agentLease, "agent-lease", strhttp.DefaultAgentLease, "how long an agent's claim lasts without renewal; an agent renews every third of it")
	c.Flags().StringVar(&memLimit, "memory-limit", "auto", "Go's soft memory limit: auto (150MiB, or the live heap and a half; unless GOMEMLIMIT is set), off, or a `SIZE` such as 1GiB")
	c.Flags().StringArrayVar(&proxies, "trusted-proxy", nil, "a reverse proxy whose X-Forwarded-For is believed: a `CIDR` or one IP (repeatable)")
	return c
}

// loopback reports whether addr is a loopback address, which only this machine reaches.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// parseTrustedProxies reads --trusted-proxy values: each a CIDR, or an IP that stands for
// itself alone (/32 or /128).
func parseTrustedProxies(values []string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, v := range values {
		if p, err := netip.ParsePrefix(v); err == nil {
			ps = append(ps, p)
			continue
		}
		if ip, err := netip.ParseAddr(v); err == nil {
			ip = ip.WithZone("")
			ps = append(ps, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		return nil, strata.Errorf(strata.EINVALID, "--trusted-proxy %q: want a CIDR such as 10.0.0.0/8 or fd00::/8, or one IP address such as 192.0.2.10", v)
	}
	return ps, nil
}
