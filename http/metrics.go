package http

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// durationBuckets are the upper bounds, in seconds, of the duration histograms: steps and
// deployments take from a second to half an hour.
var durationBuckets = []float64{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// histogram is a Prometheus histogram kept by hand: counts per bucket, sum and count.
type histogram struct {
	counts []uint64 // per bucket of durationBuckets, not cumulative
	sum    float64
	n      uint64
}

func (h *histogram) observe(v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(durationBuckets))
	}
	for i, le := range durationBuckets {
		if v <= le {
			h.counts[i]++
			break
		}
	}
	h.sum += v
	h.n++
}

// write writes the histogram's series; labels is "" or `key="value",`.
func (h *histogram) write(b *bytes.Buffer, name, labels string) {
	var cum uint64
	for i, le := range durationBuckets {
		if h.counts != nil {
			cum += h.counts[i]
		}
		fmt.Fprintf(b, "%s_bucket{%sle=\"%s\"} %d\n", name, labels, strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	fmt.Fprintf(b, "%s_bucket{%sle=\"+Inf\"} %d\n", name, labels, h.n)
	trimmed := labels
	if trimmed != "" {
		trimmed = "{" + trimmed[:len(trimmed)-1] + "}"
	}
	fmt.Fprintf(b, "%s_sum%s %s\n", name, trimmed, strconv.FormatFloat(h.sum, 'g', -1, 64))
	fmt.Fprintf(b, "%s_count%s %d\n", name, trimmed, h.n)
}

// metrics holds what this process counts itself. What the store knows (deployments by
// state and their durations, waiting promotions) is read from it at each scrape, so every
// replica reports the same totals.
type metrics struct {
	mu            sync.Mutex
	steps         map[string]*histogram
	leaseRenewals uint64
	requests      map[int]uint64
	ticks         uint64
	// checked counts the health checks this server ran after deployments, by result.
	checked map[string]uint64
	// claimWait is how long the deployments agents claimed from this server had waited
	// (made to claimed, a later attempt from its previous claim's lapse), by pool.
	claimWait map[string]*histogram
	// flags counts OFREP evaluations by flag and reason (ofrep_metrics.go).
	flags flagCounts
	// webhooks counts the webhook tries this server made, by outcome (the delivery's state
	// after the try).
	webhooks map[string]uint64

	// store is what the deployments in the store came to at the last scrape that read them,
	// and the audit log's newest event then. Every change of a deployment's state or times
	// appends an event in its own transaction, so while the newest event is the same, so are
	// these figures, and a scrape reads one event instead of every deployment ever made.
	store struct {
		seq     int64
		read    bool
		byState map[string]int
		took    histogram
		// unhealthy counts the pairs whose running deployment's health is unhealthy.
		unhealthy int
	}
}

func newMetrics() *metrics {
	return &metrics{steps: map[string]*histogram{}, requests: map[int]uint64{}, checked: map[string]uint64{}, webhooks: map[string]uint64{}, claimWait: map[string]*histogram{}}
}

// stepDone is the engine's step hook.
func (m *metrics) stepDone(step string, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.steps[step]
	if h == nil {
		h = &histogram{}
		m.steps[step] = h
	}
	h.observe(took.Seconds())
}

// leaseRenewed is the engine's lease hook.
func (m *metrics) leaseRenewed() {
	m.mu.Lock()
	m.leaseRenewals++
	m.mu.Unlock()
}

func (m *metrics) request(status int) {
	m.mu.Lock()
	m.requests[status]++
	m.mu.Unlock()
}

// healthChecked counts one health check run after a deployment.
func (m *metrics) healthChecked(health string) {
	m.mu.Lock()
	m.checked[health]++
	m.mu.Unlock()
}

// claimed counts one claim by an agent of pool, of a deployment that waited for it.
func (m *metrics) claimed(pool string, waited time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.claimWait[pool]
	if h == nil {
		h = &histogram{}
		m.claimWait[pool] = h
	}
	h.observe(max(waited, 0).Seconds())
}

// webhookDone counts one webhook try by its outcome.
func (m *metrics) webhookDone(d *strata.WebhookDelivery) {
	m.mu.Lock()
	m.webhooks[d.State]++
	m.mu.Unlock()
}

func (m *metrics) tick() {
	m.mu.Lock()
	m.ticks++
	m.mu.Unlock()
}

// serveMetrics writes the metrics in the Prometheus text exposition format (0.0.4).
// Its figures are the whole estate's, so it needs a token that covers every environment.
func (s *Server) serveMetrics(c *call) (any, error) {
	if err := c.allowEstate(strata.ActRead, "/metrics"); err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	byState, took, unhealthy, err := s.deploymentFigures(ctx)
	if err != nil {
		return nil, err
	}
	waiting, err := s.store.Promotions(ctx, strata.PromotionFilter{States: []string{strata.Waiting}})
	if err != nil {
		return nil, err
	}
	deliveries, err := s.store.CountWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# HELP strata_deployments Deployments in the store by state.\n# TYPE strata_deployments gauge\n")
	for _, st := range slices.Sorted(maps.Keys(byState)) {
		fmt.Fprintf(&b, "strata_deployments{state=%q} %d\n", st, byState[st])
	}
	b.WriteString("# HELP strata_deployment_duration_seconds How long finished deployments took, from start to end.\n# TYPE strata_deployment_duration_seconds histogram\n")
	took.write(&b, "strata_deployment_duration_seconds", "")
	b.WriteString("# HELP strata_promotions_waiting Promotions waiting on a gate.\n# TYPE strata_promotions_waiting gauge\n")
	fmt.Fprintf(&b, "strata_promotions_waiting %d\n", len(waiting))
	b.WriteString("# HELP strata_unhealthy_deployments Deployments that run and whose health check fails (checked again after the deployment by serve).\n# TYPE strata_unhealthy_deployments gauge\n")
	fmt.Fprintf(&b, "strata_unhealthy_deployments %d\n", unhealthy)
	b.WriteString("# HELP strata_webhook_deliveries Webhook deliveries in the store's outbox by state (every process's).\n# TYPE strata_webhook_deliveries gauge\n")
	for _, st := range []string{strata.WebhookPending, strata.WebhookDelivered, strata.WebhookFailed, strata.WebhookDropped} {
		fmt.Fprintf(&b, "strata_webhook_deliveries{state=%q} %d\n", st, deliveries[st])
	}
	if err := s.poolFigures(ctx, &b); err != nil {
		return nil, err
	}

	m := s.metrics
	m.mu.Lock()
	b.WriteString("# HELP strata_step_duration_seconds How long steps run by this server took.\n# TYPE strata_step_duration_seconds histogram\n")
	for _, name := range slices.Sorted(maps.Keys(m.steps)) {
		m.steps[name].write(&b, "strata_step_duration_seconds", fmt.Sprintf("step=%q,", name))
	}
	b.WriteString("# HELP strata_lease_renewals_total Deployment leases this server renewed.\n# TYPE strata_lease_renewals_total counter\n")
	fmt.Fprintf(&b, "strata_lease_renewals_total %d\n", m.leaseRenewals)
	b.WriteString("# HELP strata_scheduler_runs_total Scheduler passes this server made.\n# TYPE strata_scheduler_runs_total counter\n")
	fmt.Fprintf(&b, "strata_scheduler_runs_total %d\n", m.ticks)
	b.WriteString("# HELP strata_health_checks_total Health checks this server ran after deployments, by result.\n# TYPE strata_health_checks_total counter\n")
	for _, h := range []string{strata.Healthy, strata.Unhealthy} {
		fmt.Fprintf(&b, "strata_health_checks_total{health=%q} %d\n", h, m.checked[h])
	}
	b.WriteString("# HELP strata_webhook_tries_total Webhook tries this server made, by the delivery's state after the try.\n# TYPE strata_webhook_tries_total counter\n")
	for _, st := range []string{strata.WebhookPending, strata.WebhookDelivered, strata.WebhookFailed, strata.WebhookDropped} {
		fmt.Fprintf(&b, "strata_webhook_tries_total{state=%q} %d\n", st, m.webhooks[st])
	}
	if len(m.claimWait) > 0 {
		b.WriteString("# HELP strata_agent_claim_wait_seconds How long deployments waited for an agent of their pool to claim them (claims through this server).\n# TYPE strata_agent_claim_wait_seconds histogram\n")
		for _, pool := range slices.Sorted(maps.Keys(m.claimWait)) {
			m.claimWait[pool].write(&b, "strata_agent_claim_wait_seconds", fmt.Sprintf("pool=%q,", pool))
		}
	}
	b.WriteString("# HELP strata_http_requests_total HTTP requests this server answered, by status.\n# TYPE strata_http_requests_total counter\n")
	for _, code := range slices.Sorted(maps.Keys(m.requests)) {
		fmt.Fprintf(&b, "strata_http_requests_total{code=\"%d\"} %d\n", code, m.requests[code])
	}
	m.mu.Unlock()
	m.flags.write(&b)
	if err := s.runtime.write(&b); err != nil {
		return nil, err
	}

	w := c.w
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set(ExitHeader, "0")
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
	c.wrote = true
	return nil, nil
}

// deploymentFigures counts the store's deployments by state and how long the finished ones
// took (Store.TallyDeployments), and counts the pairs whose running deployment is unhealthy
// (strata.HealthNow of each pair's newest succeeded deployment, one row a pair), reading
// again only when the audit log has moved since the last time (metrics.store): a health
// check that changes a deployment's health appends an event too.
func (s *Server) deploymentFigures(ctx context.Context) (map[string]int, histogram, int, error) {
	// The newest event first: a change committed after it is read below, and makes the next
	// scrape read again.
	last, err := s.store.Events(ctx, strata.EventFilter{Limit: 1})
	if err != nil {
		return nil, histogram{}, 0, err
	}
	var seq int64
	if len(last) > 0 {
		seq = last[0].Seq
	}
	m := s.metrics
	m.mu.Lock()
	if m.store.read && m.store.seq == seq {
		byState, took, unhealthy := maps.Clone(m.store.byState), m.store.took, m.store.unhealthy
		took.counts = slices.Clone(took.counts)
		m.mu.Unlock()
		return byState, took, unhealthy, nil
	}
	m.mu.Unlock()
	// Counted by the store: what a scrape costs here does not grow with the history.
	tally, err := s.store.TallyDeployments(ctx, durationBuckets)
	if err != nil {
		return nil, histogram{}, 0, err
	}
	running, err := s.store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Succeeded}, Latest: true})
	if err != nil {
		return nil, histogram{}, 0, err
	}
	checks, err := s.store.HealthChecks(ctx)
	if err != nil {
		return nil, histogram{}, 0, err
	}
	checked := map[pairKey]*strata.HealthCheck{}
	for _, c := range checks {
		checked[pairKey{Service: c.Service, Environment: c.Environment}] = c
	}
	unhealthy := 0
	for _, d := range running {
		if strata.HealthNow(d, checked[pairKey{Service: d.Service, Environment: d.Environment}]) == strata.Unhealthy {
			unhealthy++
		}
	}
	byState := map[string]int{}
	for _, st := range []string{strata.Pending, strata.Running, strata.Succeeded, strata.Failed, strata.RolledBack, strata.Interrupted} {
		byState[st] = 0
	}
	maps.Copy(byState, tally.ByState)
	took := histogram{counts: make([]uint64, len(durationBuckets)), sum: tally.Seconds, n: uint64(tally.Finished)}
	for i, n := range tally.Took {
		took.counts[i] = uint64(n)
	}
	m.mu.Lock()
	kept := took
	kept.counts = slices.Clone(took.counts)
	m.store.seq, m.store.read, m.store.byState, m.store.took, m.store.unhealthy = seq, true, maps.Clone(byState), kept, unhealthy
	m.mu.Unlock()
	return byState, took, unhealthy, nil
}

// poolFigures writes, for each pool an environment runs on, how many of its agents are
// connected (seen within engine.AgentGone) and how many of its deployments wait for one.
func (s *Server) poolFigures(ctx context.Context, b *bytes.Buffer) error {
	p := s.cur.Load()
	if !slices.ContainsFunc(p.Environments, func(e *strata.Environment) bool { return e.RunsOn != "" }) {
		return nil
	}
	agents, err := s.store.Agents(ctx)
	if err != nil {
		return err
	}
	active, err := s.store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Pending, strata.Running, strata.Interrupted}})
	if err != nil {
		return err
	}
	runs, err := s.store.TaskRuns(ctx, strata.TaskRunFilter{States: []string{strata.RunRunning}})
	if err != nil {
		return err
	}
	pools := report.NewPools(p, agents, active, runs, s.now(), nil)
	b.WriteString("# HELP strata_agents_connected Agents of each pool seen in the last minute.\n# TYPE strata_agents_connected gauge\n")
	for _, pl := range pools {
		fmt.Fprintf(b, "strata_agents_connected{pool=%q} %d\n", pl.Name, pl.Connected)
	}
	b.WriteString("# HELP strata_pool_queue Deployments of each pool waiting for an agent.\n# TYPE strata_pool_queue gauge\n")
	for _, pl := range pools {
		fmt.Fprintf(b, "strata_pool_queue{pool=%q} %d\n", pl.Name, pl.Waiting)
	}
	b.WriteString("# HELP strata_pool_run_queue Task runs (runbooks, destroy and observe steps) of each pool waiting for an agent.\n# TYPE strata_pool_run_queue gauge\n")
	for _, pl := range pools {
		fmt.Fprintf(b, "strata_pool_run_queue{pool=%q} %d\n", pl.Name, pl.RunsWaiting)
	}
	return nil
}
