// Package engine carries out what the plan package decides: it builds releases, claims a
// (service, environment) in the store, runs steps, checks health, rolls back, resumes
// interrupted deployments, and runs promotions wave by wave. Every state change is
// committed to the Store before the side effect it announces.
package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-dev/strata/internal/suggest"
	"github.com/strata-dev/strata/telemetry"
	"go.opentelemetry.io/otel/attribute"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/step"
)

// Engine runs releases, deployments and promotions for one project against one store.
type Engine struct {
	Project *strata.Project
	Store   strata.Store
	// Now is the clock; leases, soak times and windows read it.
	Now func() time.Time
	// Actor is the acting principal recorded in the audit log.
	Actor string
	// Owner identifies this process in leases (step.Self() by default).
	Owner strata.Owner
	// StateDir holds artifacts and per-deployment scratch files (DIR/.strata).
	StateDir string
	// Log receives progress lines and step output; nil is quiet.
	Log io.Writer
	// Parallel bounds how many deployments of a wave run at once (default 4).
	Parallel int
	// LeaseTTL is how long a lease lasts without renewal (default 30s); it is renewed every
	// third of that.
	LeaseTTL time.Duration
	// Secrets returns one environment's secret values; nil means none are configured.
	Secrets func(env string) (map[string]string, error)
	// ServiceSecrets, when set, is used in place of Secrets: one service's secret values in
	// one environment of p, the engine's Project (which may hold short-lived environments
	// made after the engine was), so that a deployment needs only the sources its service
	// declares.
	ServiceSecrets func(p *strata.Project, service, env string) (map[string]string, error)
	// BaseEnv is the environment steps inherit (os.Environ() by default).
	BaseEnv []string
	// OnPromotion, when set, is told of a promotion that starts waiting ("waiting") or
	// ends ("succeeded", "failed", or "rolled_back" when a failed deployment was rolled
	// back), after the store recorded it. It must not block (the server sends webhooks
	// from it in the background).
	OnPromotion func(p *strata.Promotion, event string)
	// Bundles, when set, is where this machine fetches the bundles it lacks, in place of
	// the Store: an agent, which has no store of its own, fetches them from a server over
	// HTTP (http.Client). What is fetched is checked against the release's digest either way.
	Bundles BundleSource
	// OnStep, when set, is told how long each step (build, deploy, health, destroy,
	// observe) took; the server's /metrics keeps a histogram of it.
	OnStep func(name string, took time.Duration)
	// Wakes, when set, is woken when this engine makes a deployment of a pool pending, and
	// wakes it while it waits for an agent's report (await): a server sets it, shared with
	// its agents' routes, so that neither side of a claim waits out a poll. Other processes
	// are told too when the store is a strata.QueueWaker (wakes.go, queueNotice).
	Wakes *Wakes

	scratch *scratchCache // scratch.go; shared by copies
	queues  *queueNotice  // wakes.go; shared by copies, nil for a store that cannot tell
}

// runStep runs one step, in a span of its own whose W3C traceparent the step gets as
// TRACEPARENT (its own spans then join the trace), and tells OnStep how long it took.
func (e *Engine) runStep(ctx context.Context, spec step.Spec) (step.Result, error) {
	ctx, span := telemetry.Start(ctx, "step "+spec.Name)
	if tp := telemetry.Traceparent(ctx); tp != "" {
		// The last of duplicate variables is not the one every program reads: drop the
		// one this process inherited.
		spec.Env = append(slices.DeleteFunc(slices.Clone(spec.Env), func(v string) bool {
			return strings.HasPrefix(v, "TRACEPARENT=")
		}), "TRACEPARENT="+tp)
	}
	start := time.Now()
	res, err := step.Run(ctx, spec)
	if e.OnStep != nil {
		e.OnStep(spec.Name, time.Since(start))
	}
	if err == nil && res.ExitCode != 0 {
		span.SetAttributes(attribute.Int("exit_code", res.ExitCode))
		telemetry.End(span, fmt.Errorf("exited with status %d", res.ExitCode))
	} else {
		telemetry.End(span, err)
	}
	return res, err
}

// announce tells OnPromotion of a promotion event.
func (e *Engine) announce(p *strata.Promotion, event string) {
	if e.OnPromotion != nil {
		cp := *p
		e.OnPromotion(&cp, event)
	}
}

// New returns an engine with defaults filled in.
func New(p *strata.Project, s strata.Store, actor string) *Engine {
	return &Engine{
		Project:  p,
		Store:    s,
		Now:      time.Now,
		Actor:    actor,
		Owner:    step.Self(),
		StateDir: filepath.Join(p.Dir, ".strata"),
		Parallel: 4,
		LeaseTTL: 30 * time.Second,
		BaseEnv:  os.Environ(),
		scratch:  &scratchCache{dirs: map[string]string{}, made: map[string]bool{}},
		queues:   newQueueNotice(s),
	}
}

// logMu keeps progress lines whole when parallel deployments write at once.
var logMu sync.Mutex

// logf writes one progress line.
func (e *Engine) logf(format string, args ...any) {
	if e.Log == nil {
		return
	}
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(e.Log, format+"\n", args...)
}

func (e *Engine) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// notFound is the ENOTFOUND error for an unknown name of some kind: the known names and the
// likely one, worded as everywhere else (internal/suggest).
func notFound(kind, name string, known []string) error {
	return &strata.Error{Code: strata.ENOTFOUND, Message: suggest.Unknown(kind, name, known)}
}

// event builds an audit event for the acting principal.
func (e *Engine) event(action, service, env, subject string, detail any) *strata.Event {
	ev := &strata.Event{Actor: e.Actor, Action: action, Service: service, Environment: env, Subject: subject}
	if detail != nil {
		ev.Detail = mustJSON(detail)
	}
	return ev
}

// Facts gathers what the gates of every promotion depend on: what runs in every pair, when
// each version first ran healthy in each, and the freezes. It reads every succeeded
// deployment ever made: nothing that runs often calls it (a promotion reads its own
// release's, PromotionFacts); the tests judge the narrow reads against it.
func (e *Engine) Facts(ctx context.Context) (plan.Facts, error) {
	f := e.noFacts()
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Succeeded}})
	if err != nil {
		return f, fmt.Errorf("read deployments: %w", err)
	}
	e.addCurrent(f, ds)
	e.addHealthy(f, ds)
	return f, e.readFreezes(ctx, f)
}

// Current returns what runs in each (service, environment): its newest succeeded deployment,
// read as one row a pair.
func (e *Engine) Current(ctx context.Context) (map[plan.Pair]*strata.Deployment, error) {
	f, err := e.currentFacts(ctx, "")
	return f.Current, err
}
