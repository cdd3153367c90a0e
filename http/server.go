// Package http is Strata's server: the JSON API that every CLI command has a route in
// (docs/api.md, and the OpenAPI document at /api/v1/openapi.json), token authentication and
// per-environment roles, the web dashboard, /metrics and /healthz, the scheduler that moves
// waiting work along, and the webhooks that announce promotions.
//
// Callers import it as strhttp "github.com/strata-dev/strata/http".
package http

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/notify"
)

// Config is what a Server is made from.
type Config struct {
	// Engine is the project and store the server acts on. Each request acts through a copy
	// whose Actor is the request's principal (the token's name).
	Engine *engine.Engine
	// Logger receives request logs and internal errors; nil logs to stderr as text.
	Logger *slog.Logger
	// Tick is how often the scheduler runs (Serve); 0 means every 5 seconds.
	Tick time.Duration
	// SchedulerActor is the principal the scheduler acts as in the audit log ("scheduler"
	// when empty).
	SchedulerActor string
	// Version is the strata version strata_build_info reports ("dev" when empty).
	Version string
	// WebhookSecret signs webhook bodies (HMAC-SHA256); empty sends them unsigned.
	WebhookSecret string
	// WebhookRetry is the first backoff between webhook tries (doubling); 0 means 1 second.
	WebhookRetry time.Duration
	// AuthFailures is how fast one client address may fail to authenticate (a bearer token
	// or the login form's token that is unknown or revoked) before its further attempts are
	// answered 429 without a look-up; the zero value means DefaultAuthFailures. The address
	// is the client's, as TrustedProxies resolves it.
	AuthFailures RateLimit
	// TLS, when set, makes Serve speak HTTPS with it (LoadTLS reads serve's --tls-cert and
	// --tls-key). Over HTTPS, or behind a trusted proxy whose X-Forwarded-Proto is https, the
	// session cookies are Secure and responses carry Strict-Transport-Security.
	TLS *tls.Config
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed. A request whose
	// connection comes from inside one of them is from the rightmost address of its
	// X-Forwarded-For that is not inside one (the leftmost when all are; the proxy's own when
	// the header is missing or malformed). That address is what failed authentication counts
	// against and what the logs show. Their X-Forwarded-Proto says whether the client came
	// over HTTPS. Empty, every request is from its connection's address and both headers are
	// ignored, since any client could write them.
	TrustedProxies []netip.Prefix
	// Commands are the declared commands the API serves, one route each; nil means
	// command.All(). A declaration is all a command needs to be served, sent by Run and
	// described in the OpenAPI document.
	Commands []command.Decl
	// HealthInterval is how often Serve checks again the health of what runs in every
	// environment, each pair at its own point of the interval (docs/cli.md, serve
	// --health-interval); 0 turns it off. HealthChecks bounds how many checks run at once
	// (DefaultHealthChecks when 0). HealthAfter is the clock's wait between checks
	// (time.After when nil), for tests.
	HealthInterval time.Duration
	HealthChecks   int
	HealthAfter    func(time.Duration) <-chan time.Time
	// MaxUpload caps an uploaded bundle's bytes (POST /api/v1/bundles); 0 means
	// engine.MaxUpload (1 GiB).
	MaxUpload int64
	// AgentLease is how long an agent's claim lasts without renewal (DefaultAgentLease when
	// 0); AgentWait how long a claim request is held open when nothing is pending
	// (DefaultAgentWait when 0).
	AgentLease time.Duration
	AgentWait  time.Duration
	// AgentPoll is how often a held claim looks at the store for work it was not woken for
	// (DefaultAgentPoll when 0); a test sets it long to see that work queued on this server
	// is claimed by a wake-up.
	AgentPoll time.Duration
}

// Server serves the API, the dashboard and /metrics, and runs the scheduler.
type Server struct {
	cfg    Config
	engine *engine.Engine
	store  strata.Store
	// cur is the project as it is now: strata.yaml plus the short-lived environments. A
	// change (env create or destroy, the scheduler finding new or expired ones) publishes a
	// new copy under projMu; each request reads one snapshot throughout.
	cur     atomic.Pointer[strata.Project]
	projMu  sync.Mutex
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics
	// runtime holds the Go runtime and process collectors (metrics_runtime.go).
	runtime *runtimeMetrics
	// deliver sends webhooks from the store's outbox (notify.go); nudge wakes it.
	deliver *notify.Deliverer
	nudge   chan struct{}
	// limit counts failed authentication per client address, for the API and the login form.
	limit *authLimiter
	// commands are the declared commands the API serves (routes).
	commands []command.Decl
	// health checks again what runs (healthwatch.go).
	health *healthWatch
	// ofrep caches flags and client tokens for OFREP (ofrep.go).
	ofrep *ofrepState
	// snaps is the one matrix snapshot every request shares; status keeps the encoded
	// answers of GET /api/v1/status built from it (status_cache.go).
	snaps  *snapshots
	status statusCache

	// sessionHash, when set (by the dashboard), returns the token hash a request's session
	// cookie stands for, so that a logged-in browser needs no Authorization header.
	sessionHash func(r *http.Request) (hash string, ok bool)

	// tokens are the agent and client tokens looked up lately (token_cache.go).
	tokens tokenCache

	// covers and claims make agents' claims cheaper (agent_claims.go).
	covers coverages
	claims claimGates
	// seen is when this server last recorded each agent as seen (agent_next.go).
	seen seen

	tickMu sync.Mutex // one scheduler pass at a time in this process
	// schedErrs says each of the scheduler's failures once (scheduler.go).
	schedErrs schedulerErrs
	// scheduling is set while Serve's scheduler runs (GET /readyz reads it).
	scheduling atomic.Bool
}

// New returns a server for cfg.Engine's project and store. It wires the engine's hooks to
// the server's metrics and webhooks.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil || cfg.Engine.Store == nil || cfg.Engine.Project == nil {
		return nil, errors.New("new server: an engine with a project and a store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 5 * time.Second
	}
	if cfg.SchedulerActor == "" {
		cfg.SchedulerActor = "scheduler"
	}
	proxies, err := normalizeProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	cfg.TrustedProxies = proxies
	e := *cfg.Engine
	e.Log = nil
	s := &Server{
		cfg:     cfg,
		engine:  &e,
		store:   e.Store,
		log:     cfg.Logger,
		metrics: newMetrics(),
		runtime: newRuntimeMetrics(cfg.Version),
		snaps:   &snapshots{},
	}
	s.cur.Store(e.Project)
	s.limit = newAuthLimiter(cfg.AuthFailures, s.now, s.log)
	s.deliver, s.nudge = s.newDeliverer(cfg), make(chan struct{}, 1)
	s.health = newHealthWatch(cfg)
	s.engine.OnPromotion = s.onPromotion
	s.engine.OnStep = s.metrics.stepDone
	s.engine.Wakes = &engine.Wakes{}
	// Lease renewals are counted on their way to the store.
	s.engine.Store = countingStore{Store: e.Store, m: s.metrics}
	s.mux = http.NewServeMux()
	if err := s.routes(s.mux); err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	s.registerOFREP(s.mux)
	s.registerUI(s.mux)
	s.handler = s.logRequests(gzipped(s.mux))
	return s, nil
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Serve serves HTTP on ln, runs the scheduler every Tick, checks health again every
// HealthInterval and, on a store that is a strata.QueueWaker, listens for work other
// processes queue for agents (waking the claims held here) until ctx ends, then shuts down
// gracefully (requests in flight get 10 seconds; deployments they started finish in the
// store's records as interrupted when cut short, and the next scheduler resumes them).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		var wg sync.WaitGroup
		if s.health.interval > 0 {
			wg.Go(func() { s.watchHealth(ctx) })
		}
		if len(s.deliver.Hooks) > 0 {
			wg.Go(func() { s.deliverWebhooks(ctx) })
		}
		if qw, ok := s.store.(strata.QueueWaker); ok {
			wg.Go(func() { s.listenQueues(ctx, qw) })
		}
		s.scheduling.Store(true)
		s.runScheduler(ctx)
		s.scheduling.Store(false)
		wg.Wait()
	}()
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLS != nil {
			srv.TLSConfig = s.cfg.TLS.Clone()
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		<-schedDone
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shut)
	<-schedDone
	if err != nil {
		return fmt.Errorf("shut down %s: %w", ln.Addr(), err)
	}
	return nil
}

// now reads the engine's clock.
func (s *Server) now() time.Time {
	if s.engine.Now != nil {
		return s.engine.Now()
	}
	return time.Now()
}

// onPromotion is the engine's promotion hook: the event it announces is in the audit log
// already, and the deliverer sends it now.
func (s *Server) onPromotion(p *strata.Promotion, event string) {
	s.nudgeWebhooks()
}

// countingStore counts the lease renewals of the server's deployments for /metrics.
type countingStore struct {
	strata.Store
	m *metrics
}

// RenewLease renews the lease and counts it when it was renewed.
func (c countingStore) RenewLease(ctx context.Context, id string, owner strata.Owner, until time.Time) error {
	err := c.Store.RenewLease(ctx, id, owner, until)
	if err == nil {
		c.m.leaseRenewed()
	}
	return err
}

// statusWriter remembers the status a handler wrote, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets server-sent events through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// principalKey holds, in a request's context, a pointer the authentication fills in, so the
// request log can name the principal without seeing the token.
type principalKey struct{}

// logRequests resolves each request's client address (withClient) and whether it came over
// HTTPS (withHTTPS, which adds Strict-Transport-Security), and logs the request:
// method, path (never the query, which could hold anything a client put there), status,
// duration, principal and client address. Tokens never reach the log.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		name := new(string)
		r = withHTTPS(s.withClient(r), s.cfg.TrustedProxies)
		r = r.WithContext(context.WithValue(r.Context(), principalKey{}, name))
		if isHTTPS(r) {
			w.Header().Set("Strict-Transport-Security", hstsValue)
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		took := time.Since(start)
		s.metrics.request(sw.status)
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"duration_ms", float64(took.Microseconds())/1000, "principal", *name, "remote", client(r))
	})
}
