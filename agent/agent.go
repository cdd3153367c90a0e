// Package agent is `strata agent`: a worker inside an environment's network that dials out
// to a `strata serve`, claims the deployments of its pool, runs them and reports. It needs
// no checkout of the project: each claimed job carries everything (engine.Job); the bundle
// is fetched by its digest and checked before anything runs; the environment's secrets are
// opened with the key directory of this host only. It renews its claim's lease while the
// step runs and stops the step itself before the lease lapses when it cannot (it fences
// itself); a network cut shorter than the lease changes nothing, as every request is retried
// until the lease would lapse. Given several servers on one store it talks to one and goes on
// with the next when that one stops answering (servers.go), keeping its claim: the claim,
// its lease and its fence live in the store, not in the server.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/secret"
)

// Config is what an agent is made from.
type Config struct {
	// Servers are the servers it may talk to, all on one store: it talks to the first, and
	// goes on with the next when the one it talks to does not answer.
	Servers []*strhttp.Client
	// Name is the agent's name (unique among agents); Pool the pool it serves.
	Name, Pool string
	// Version is the binary's version, shown by `agent list`.
	Version string
	// Protocol is the agents' protocol version it speaks: strata.AgentProtocol (an older
	// one only to test how a server refuses it).
	Protocol int
	// Dir is the agent's work directory: fetched bundles under Dir/state, steps run in
	// Dir/work.
	Dir string
	// Keys is the key directory that holds the identities of the environments it serves.
	Keys string
	// Progress receives a line per event (claimed, succeeded, ...) and the step's output;
	// nil is quiet. Log receives structured logs.
	Progress io.Writer
	Log      *slog.Logger
	// MaxBundle caps a fetched bundle's bytes (engine.MaxUpload when 0).
	MaxBundle int64
	// Wait is how long one claim request may be held by the server (its own cap applies).
	Wait time.Duration
}

// Agent runs jobs for one pool.
type Agent struct {
	cfg   Config
	state string // Dir/state: bundles
	work  string // Dir/work: where steps run
	lease time.Duration
	srv   *servers
	// asks is what the agent asks of servers that may be older than it, and what it heard
	// of its claims (asks.go).
	asks *asks
	// engines run the jobs, one per project (engine).
	engines map[string]*engine.Engine
}

// New checks cfg and makes the agent's directories.
func New(cfg Config) (*Agent, error) {
	if len(cfg.Servers) == 0 {
		return nil, strata.Errorf(strata.EINVALID, "strata agent needs --server, the URL of a strata serve")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Wait <= 0 {
		cfg.Wait = strhttp.DefaultAgentWait
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, strata.Errorf(strata.EINVALID, "--dir %q: %w", cfg.Dir, err)
	}
	a := &Agent{cfg: cfg, state: filepath.Join(dir, "state"), work: filepath.Join(dir, "work"), lease: strhttp.DefaultAgentLease,
		srv: &servers{list: cfg.Servers, log: cfg.Log}, asks: newAsks()}
	for _, d := range []string{a.state, a.work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, strata.Errorf(strata.EINVALID, "--dir %q: %w; name a directory this agent may write", cfg.Dir, err)
		}
	}
	return a, nil
}

func (a *Agent) progress(format string, args ...any) {
	if a.cfg.Progress != nil {
		fmt.Fprintf(a.cfg.Progress, format+"\n", args...)
	}
}

func (a *Agent) hello() strhttp.AgentHello {
	return strhttp.AgentHello{Name: a.cfg.Name, Pool: a.cfg.Pool, Version: a.cfg.Version, Protocol: a.cfg.Protocol}
}

// Run registers and then claims, runs and reports jobs until ctx ends. A refusal that
// waiting cannot cure (a token that does not cover the pool, an older protocol) ends it
// with that error; a server it cannot reach is tried again.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.register(ctx); err != nil {
		return err
	}
	backoff := time.Second
	for ctx.Err() == nil {
		// Bounded: a link that drops silently must not hold the agent on one request.
		// A claim is held by one server (long-poll); when it gets no answer the next claim
		// goes to the next server.
		cctx, cancel := context.WithTimeout(ctx, a.cfg.Wait+15*time.Second)
		var c *strhttp.Claimed
		err := a.srv.once(ctx, cctx, func(ctx context.Context, s *strhttp.Client) (err error) {
			c, err = s.Claim(ctx, a.asks.claim(a.cfg.Name, a.cfg.Pool, a.cfg.Wait))
			return err
		})
		lost := noAnswer(ctx, cctx, err)
		cancel()
		if err == nil {
			a.asks.answered(c)
		} else if lost {
			// The server may have claimed a job for this agent: the next claim says what
			// the agent heard, and is given that job again.
			a.asks.lost()
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case a.gaveUp(err):
			continue
		case strata.ErrorCode(err) == strata.ENOTFOUND && !strhttp.Unreachable(err):
			// The server does not know this agent (its store was reset): register again.
			if err := a.register(ctx); err != nil {
				return err
			}
			continue
		case final(err):
			return err
		case err != nil:
			a.cfg.Log.Warn("claim", "err", err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = time.Second
		// A report may bring the next claim with it.
		for c != nil && c.Job != nil {
			c = a.runClaim(ctx, c)
		}
	}
	return nil
}

// claimKinds are the kinds of job this agent claims (and runs: refuseKind).
var claimKinds = []string{strhttp.ClaimDeploy, strhttp.ClaimRun, strhttp.ClaimDestroy, strhttp.ClaimObserve, strhttp.ClaimHealth}

// final reports whether err is a refusal that asking again will not change
// (strata.IsTerminal, as the server judged it: the token does not cover the pool, the
// protocol is older than the server's, a bad name, a bundle whose digest does not match). A
// server that cannot be reached is never final: another may answer, or this one later.
func final(err error) bool {
	return err != nil && !strhttp.Unreachable(err) && strata.IsTerminal(err)
}

func (a *Agent) register(ctx context.Context) error {
	backoff := time.Second
	for {
		var w *strhttp.AgentWelcome
		err := a.srv.each(ctx, func(ctx context.Context, s *strhttp.Client) (err error) {
			w, err = s.Register(ctx, a.hello())
			return err
		})
		if err == nil {
			if w.LeaseSeconds > 0 {
				a.lease = time.Duration(w.LeaseSeconds * float64(time.Second))
			}
			a.asks.registered(w)
			a.progress("agent %s: registered for pool %s (%s); lease %s", a.cfg.Name, a.cfg.Pool, joinEnvs(w.Environments), strata.Duration(a.lease))
			a.cfg.Log.Info("registered", "agent", a.cfg.Name, "pool", a.cfg.Pool, "environments", w.Environments, "protocol", w.Protocol)
			return nil
		}
		if final(err) || ctx.Err() != nil {
			return err
		}
		a.cfg.Log.Warn("register", "err", err)
		sleep(ctx, backoff)
		backoff = min(2*backoff, 10*time.Second)
	}
}

// runClaim runs one claimed job under its lease and reports it, returning the next claim
// when the report brought one. When the lease is lost (it could not be renewed in time, or
// another agent holds a newer claim) the step has been stopped and nothing is reported: the
// deployment is the next claimer's.
func (a *Agent) runClaim(ctx context.Context, c *strhttp.Claimed) *strhttp.Claimed {
	j := c.Job
	f := strhttp.Fenced{Name: a.cfg.Name, Pool: a.cfg.Pool, Deployment: c.Deployment, Fence: c.Fence}
	lease := a.lease
	if c.LeaseSeconds > 0 {
		lease = time.Duration(c.LeaseSeconds * float64(time.Second))
	}
	// The lease is counted on this host's clock from before the claim was sent back: a
	// little shorter than the server's, never longer.
	until := time.Now().Add(lease)
	if !engine.IsDeploymentKind(j.Kind) {
		a.progress("▸ %s → %s: claimed %s %s (%s, fence %d)", j.Service, j.Environment, j.Kind, j.Task, c.Deployment, c.Fence)
	} else {
		a.progress("▸ %s → %s: claimed %s@%s (%s, attempt %d, fence %d)", j.Service, j.Environment, j.Service, j.Version, c.Deployment, c.Attempt, c.Fence)
	}
	a.cfg.Log.Info("claimed", "deployment", c.Deployment, "attempt", c.Attempt, "fence", c.Fence)

	e := a.engine(j.Project)
	e.LeaseTTL = lease
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var reporting atomic.Bool // the step has ended and its outcome is on its way
	stop := e.KeepLease(runCtx, until, cancel, func(time.Time) error {
		rctx, done := context.WithTimeout(runCtx, lease/3)
		defer done()
		err := a.srv.each(rctx, func(ctx context.Context, s *strhttp.Client) error {
			_, err := s.Renew(ctx, f)
			return err
		})
		if err != nil && reporting.Load() && strata.ErrorCode(err) == strata.ECONFLICT {
			// The report was recorded (a report held for the next claim may still be
			// waiting), or another agent took over and the report will be refused: either
			// way no step runs to be stopped, and the report must not be cut short.
			return nil
		}
		if err != nil {
			a.cfg.Log.Warn("renew", "deployment", c.Deployment, "err", err)
		}
		return err
	})
	defer stop()

	var out *engine.JobOutcome
	switch refusal := a.refuseKind(j.Kind); {
	case refusal != "":
		// Never run as something else: a newer server's job this agent cannot run.
		out = &engine.JobOutcome{State: strata.Failed, Error: refusal}
	case j.Kind == engine.KindObserve:
		if j.Bundle != "" {
			out = a.fetch(runCtx, e, j)
		}
		if out == nil {
			o := e.ObserveJob(runCtx, j)
			out = &o
		}
	case j.Kind == engine.KindHealth:
		// A check run again, never a deployment: a command check runs from the release's
		// recipe, a URL needs no bundle.
		if j.Bundle != "" {
			out = a.fetch(runCtx, e, j)
		}
		if out == nil {
			o := e.HealthJob(runCtx, j, &secret.Vault{KeyDir: a.cfg.Keys})
			out = &o
		}
	case j.Kind == engine.KindRun, j.Kind == engine.KindDestroy:
		// A run's output goes to the server while it runs (unless the server is older than
		// that) and, whole, with its report; its bundle (the recipe of the release running
		// in its environment) only when one runs there.
		if j.Bundle != "" {
			out = a.fetch(runCtx, e, j)
		}
		if out == nil {
			var live io.Writer
			var logs *remoteLogs
			if a.asks.runOutput() {
				logs = newRemoteLogs(runCtx, a.srv, f, lease, a.cfg.Log, a.gaveUp)
				live = &liveOutput{ctx: runCtx, logs: logs, step: j.Kind + " " + j.Task}
			}
			o := e.RunTaskJob(runCtx, j, &secret.Vault{KeyDir: a.cfg.Keys}, live)
			if logs != nil {
				logs.close(runCtx) // the output so far lands before the report
			}
			out = &o
		}
	default:
		out = a.fetch(runCtx, e, j)
		if out == nil {
			logs := newRemoteLogs(runCtx, a.srv, f, lease, a.cfg.Log, nil)
			o := e.RunJob(runCtx, j, c.Attempt, logs, &secret.Vault{KeyDir: a.cfg.Keys})
			logs.close(runCtx) // the output lands before the outcome
			out = &o
		}
	}
	if errors.Is(context.Cause(runCtx), engine.ErrLeaseLost) {
		a.progress("✗ %s → %s: %s: the lease could not be renewed; the step was stopped and the deployment is left to the next claim", j.Service, j.Environment, c.Deployment)
		a.cfg.Log.Warn("fenced", "deployment", c.Deployment, "fence", c.Fence)
		return nil
	}
	reporting.Store(true)
	return a.report(runCtx, f, out)
}

// engine returns the engine that runs the jobs of project, made on its first job and kept:
// it remembers the scratch directories it made, and the agent runs one job at a time.
func (a *Agent) engine(project string) *engine.Engine {
	if e := a.engines[project]; e != nil {
		return e
	}
	e := engine.New(&strata.Project{Name: project, Dir: a.work}, nil, a.cfg.Name)
	e.StateDir, e.Log = a.state, a.cfg.Progress
	if a.engines == nil || len(a.engines) >= 64 {
		a.engines = map[string]*engine.Engine{}
	}
	a.engines[project] = e
	return e
}

// refuseKind says why this agent will not run a job of kind ("" when it runs it): it knows
// a deployment's kinds, runbook runs, destroy and observe steps and health checks; any other
// is a newer server's, and is refused rather than run as a deployment.
func (a *Agent) refuseKind(kind string) string {
	switch kind {
	case engine.KindRun, engine.KindDestroy, engine.KindObserve, engine.KindHealth:
		return ""
	}
	if engine.IsDeploymentKind(kind) {
		return ""
	}
	return fmt.Sprintf("agent %s (strata %s) does not know jobs of kind %q: upgrade strata on the agent's host to the server's version", a.cfg.Name, a.cfg.Version, kind)
}

// fetch stores the job's bundle, checked against its digest, trying again while the lease
// holds. It returns the outcome to report when the bundle cannot be had.
func (a *Agent) fetch(ctx context.Context, e *engine.Engine, j *engine.Job) *engine.JobOutcome {
	if j.Bundle == "" {
		return &engine.JobOutcome{State: strata.Failed, Error: fmt.Sprintf("%s@%s has no bundle (it was released before bundles): release it again to deploy it on an agent", j.Service, j.Version)}
	}
	for {
		err := e.FetchBundle(ctx, j.Bundle, a.cfg.MaxBundle, func(ctx context.Context) (io.ReadCloser, error) {
			var rc io.ReadCloser
			err := a.srv.once(ctx, ctx, func(ctx context.Context, s *strhttp.Client) (err error) {
				rc, err = s.OpenBundle(ctx, j.Bundle)
				return err
			})
			return rc, err
		})
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return &engine.JobOutcome{State: strata.Failed, Error: "the bundle could not be fetched before the lease ran out"}
		case final(err):
			// A digest that does not match, or a bundle the server lacks: refused before
			// anything runs.
			return &engine.JobOutcome{State: strata.Failed, Error: "refused before anything ran: " + err.Error()}
		}
		a.cfg.Log.Warn("fetch bundle", "bundle", j.Bundle, "err", err)
		sleep(ctx, time.Second)
	}
}

// nextWait is how long a report may be held for the next claim: a deployment of the pool
// that becomes pending just after a report (the next of a promotion's wave) is taken at once,
// and an agent that finds none claims as usual.
const nextWait = 5 * time.Second

// report sends the outcome, trying again until it is recorded, refused, or the lease
// (which KeepLease renews meanwhile) is lost. When the server takes it, the report claims
// the next deployment too, which it returns (nil when none came). A report whose answer was
// lost is sent again as it was: the server answers it as the first time, with the same next
// job.
func (a *Agent) report(ctx context.Context, f strhttp.Fenced, out *engine.JobOutcome) *strhttp.Claimed {
	for {
		r := strhttp.AgentReport{Name: f.Name, Pool: f.Pool, Deployment: f.Deployment, Fence: f.Fence,
			State: out.State, Health: out.Health, Outputs: out.Outputs, Error: out.Error, ExitCode: out.ExitCode, Output: out.Output}
		var next *strhttp.Claimed
		asked, kinds := a.asks.reportNext()
		wait := min(nextWait, a.cfg.Wait)
		if !asked {
			wait = 0
		}
		rctx, done := context.WithTimeout(ctx, 10*time.Second+wait)
		err := a.srv.each(rctx, func(ctx context.Context, s *strhttp.Client) error {
			if !asked {
				return s.Report(ctx, r)
			}
			r.WaitSeconds, r.Kinds = wait.Seconds(), kinds
			got, err := s.ReportNext(ctx, r)
			if err == nil {
				next = got.Next
			}
			return err
		})
		if asked && err == nil {
			a.asks.answered(next)
		} else if asked && noAnswer(ctx, rctx, err) {
			a.asks.lost()
		}
		done()
		switch code := strata.ErrorCode(err); {
		case a.gaveUp(err):
			continue
		case err == nil:
			mark := "✓"
			if out.State != strata.Succeeded {
				mark = "✗"
			}
			a.progress("%s %s: %s %s", mark, f.Deployment, out.State, out.Error)
			a.cfg.Log.Info("reported", "deployment", f.Deployment, "state", out.State)
			return next
		case ctx.Err() != nil:
			a.cfg.Log.Warn("report abandoned: the lease ran out", "deployment", f.Deployment)
			return nil
		case code == strata.ECONFLICT, final(err):
			// An older fence (another agent took the claim over), or a refusal that asking
			// again will not change.
			a.progress("✗ %s: the server refused the report: %v", f.Deployment, err)
			a.cfg.Log.Warn("report refused", "deployment", f.Deployment, "err", err)
			return nil
		}
		a.cfg.Log.Warn("report", "deployment", f.Deployment, "err", err)
		sleep(ctx, time.Second)
	}
}

// gaveUp reports whether err is a refusal of a server older than the agent of something it
// may do without (asks.older): it then asks without it, at once.
func (a *Agent) gaveUp(err error) bool {
	what := a.asks.older(err)
	if what != "" {
		a.cfg.Log.Warn("the server is older than this agent; going on without "+what, "err", err)
	}
	return what != ""
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func joinEnvs(envs []string) string {
	if len(envs) == 0 {
		return "no environments"
	}
	return strings.Join(envs, ", ")
}
