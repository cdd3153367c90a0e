package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/secret"
	"github.com/strata-dev/strata/step"
	"github.com/strata-dev/strata/telemetry"
	"go.opentelemetry.io/otel/attribute"
)

// Deployment kinds: why a deployment ran.
const (
	KindDeploy    = "deploy"
	KindPromotion = "promotion"
	KindRollback  = "rollback"
)

// DeployRequest asks for one release in one environment.
type DeployRequest struct {
	Service string
	Version string // "" for the newest release
	Env     string
	// NoWait fails at once (EBLOCKED) when another deployment holds the pair.
	NoWait      bool
	Kind        string
	PromotionID string
	RollbackOf  string
	// SkipPolicy is set when the caller has judged the gates already (a promotion) or the
	// deployment is an automatic rollback (gates.go says which deployments are judged).
	SkipPolicy bool
	// OverrideWindow opens closed deploy windows and OverrideFreeze a freeze (a rollback's
	// only); Reason, required with either, says why. Both are audited with the deployment.
	OverrideWindow bool
	OverrideFreeze bool
	Reason         string
	// release, when set, is the release to deploy, which a promotion looks up once for all
	// its environments rather than once for each.
	release *strata.Release
	// verified says the caller has checked release's artifacts against its digest already
	// (a promotion does, once per wave).
	verified bool
	// handover, when set, is the caller's worker's: the outcome of its previous deployment
	// is recorded with this one's claim, and this one's success waits for the next claim in
	// turn (carry.go).
	handover *handover
	// fence, when set, ends when the promotion this deployment belongs to is no longer this
	// process's (its lease was lost): the deployment is then not claimed, so that it is not
	// made twice, here and by whoever took the promotion over.
	fence context.Context
}

var errLeaseLost = errors.New("lost its lease; another worker may take the deployment over")

// Deploy runs one release into one environment and returns the deployment as it ended.
// A failed step or health check returns EFAILED (after the rollback policy ran); a closed
// policy or a missing dependency returns EBLOCKED before anything runs.
func (e *Engine) Deploy(ctx context.Context, req DeployRequest) (*strata.Deployment, error) {
	ctx, span := telemetry.Start(ctx, "deployment", attribute.String("service", req.Service), attribute.String("environment", req.Env),
		attribute.String("kind", req.Kind))
	d, err := e.deploy(ctx, req)
	if d != nil {
		span.SetAttributes(attribute.String("deployment", d.ID), attribute.String("version", d.Version),
			attribute.String("state", d.State), attribute.Int("attempt", d.Attempt))
	}
	telemetry.End(span, err)
	return d, err
}

// deploy is Deploy inside its span.
func (e *Engine) deploy(ctx context.Context, req DeployRequest) (*strata.Deployment, error) {
	claiming := false
	defer func() {
		if !claiming {
			req.handover.flush(ctx) // no claim took the previous outcome
		}
	}()
	svc, env, err := e.lookup(req.Service, req.Env)
	if err != nil {
		return nil, err
	}
	if err := checkOverrides(req); err != nil {
		return nil, err
	}
	rel := req.release
	if rel == nil {
		if rel, err = e.findRelease(ctx, req.Service, req.Version); err != nil {
			return nil, err
		}
	}
	// Before the claim: a bundle this machine cannot have is refused, not recorded as a
	// failed deployment of the environment.
	if !req.verified {
		if err := e.ensureBundle(ctx, rel); err != nil {
			return nil, err
		}
	}
	facts, err := e.deployFacts(ctx, svc, env.Name, !req.SkipPolicy)
	if err != nil {
		return nil, err
	}
	// Every kind of deployment asks: a promotion's waves each read the release afresh, so
	// a recall stops the waves after it.
	if err := recallBlocks(rel, facts); err != nil {
		return nil, err
	}
	if !req.SkipPolicy {
		if gates := e.directGates(req, rel, facts); !plan.Open(gates) {
			if req.Kind != KindRollback && !gateOK(gates, plan.GateApprovals) {
				return e.promoteInstead(ctx, rel, env.Name)
			}
			what := fmt.Sprintf("deploy of %s@%s to %s", rel.Service, rel.Version, env.Name)
			if req.Kind == KindRollback {
				what = fmt.Sprintf("rollback of %s in %s to %s", rel.Service, env.Name, rel.Version)
			}
			return nil, closedError(what, gates)
		}
	}
	rs, err := e.resolveFor(svc, env, rel.Version, facts)
	if err != nil {
		return nil, err
	}
	if req.Kind == KindRollback {
		// Back to the release as it ran there: its kept config, secrets resolved afresh.
		kept, from, err := e.keptConfig(ctx, svc.Name, env.Name, rel.Version)
		if err != nil {
			return nil, err
		}
		if kept != nil {
			old := rs
			rs = reuseKept(rs, kept)
			e.logf("  %s/%s | rollback uses the config %s ran with%s", svc.Name, env.Name, from, differingKeys(old, rs))
		}
	}
	if env.RunsOn == "" { // a pool's job is made, and its steps interpolated, by toPool
		if err := e.checkSteps(svc, rs, rel); err != nil {
			return nil, err
		}
	}
	if req.Kind == "" {
		req.Kind = KindDeploy
	}
	now := e.now()
	d := &strata.Deployment{
		Service: svc.Name, Environment: env.Name, Version: rel.Version, ReleaseID: rel.ID,
		State: strata.Running, Attempt: 1, Kind: req.Kind, PromotionID: req.PromotionID, RollbackOf: req.RollbackOf,
		Actor: e.Actor, Config: rs.Redacted(), ConfigHash: configHash(rs),
		Owner: e.Owner, LeaseUntil: now.Add(e.LeaseTTL), CreatedAt: now, StartedAt: now,
	}
	claimCtx := ctx
	if req.fence != nil {
		c, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		defer context.AfterFunc(req.fence, func() { cancel(context.Cause(req.fence)) })()
		claimCtx = c
	}
	if env.RunsOn != "" {
		if err := e.toPool(ctx, d, env, svc, rs, rel, facts); err != nil {
			return nil, err
		}
	}
	claiming = true
	audit := map[string]any{}
	overrideDetail(req, audit)
	if err := e.claim(claimCtx, d, req.NoWait, req.handover, audit); err != nil {
		return nil, err
	}
	if d.Pool != "" {
		return e.await(ctx, d, svc)
	}
	return e.execute(ctx, d, svc, rs, rel, req.verified, req.handover)
}

func (e *Engine) lookup(service, env string) (*strata.Service, *strata.Environment, error) {
	svc := e.Project.Service(service)
	if svc == nil {
		return nil, nil, notFound("service", service, e.Project.ServiceNames())
	}
	en := e.Project.Environment(env)
	if en == nil {
		return nil, nil, notFound("environment", env, e.Project.EnvironmentNames())
	}
	return svc, en, nil
}

// findRelease returns service@version, or the newest release when version is "".
func (e *Engine) findRelease(ctx context.Context, service, version string) (*strata.Release, error) {
	if version != "" {
		r, err := e.Store.Release(ctx, service, version)
		if strata.ErrorCode(err) == strata.ENOTFOUND {
			known, _ := e.Store.Releases(ctx, service)
			var vs []string
			for _, k := range known {
				vs = append(vs, k.Version)
			}
			if len(vs) == 0 {
				return nil, strata.Errorf(strata.ENOTFOUND, "%s has no release %q; it has no releases yet: run `strata release %s`", service, version, service)
			}
			return nil, strata.Errorf(strata.ENOTFOUND, "%s has no release %q; known versions (newest first): %s", service, version, strings.Join(vs, ", "))
		}
		return r, err
	}
	rs, err := e.Store.Releases(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("list releases of %s: %w", service, err)
	}
	if len(rs) == 0 {
		return nil, strata.Errorf(strata.ENOTFOUND, "%s has no releases yet; run `strata release %s`", service, service)
	}
	return rs[0], nil
}

// execute runs one attempt of d: the deploy step, then the health check, then the rollback
// policy on failure. d is recorded as running by its caller.
//
// With h set, a success is not recorded but waits in h for the worker's next claim.
func (e *Engine) execute(ctx context.Context, d *strata.Deployment, svc *strata.Service, rs *layer.Resolved, rel *strata.Release, verified bool, h *handover) (*strata.Deployment, error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopLease := e.keepLease(runCtx, d, cancel)
	sink := newLogSink(ctx, e.Store, d.ID, d.Attempt)
	secrets := secretValues(rs)
	start := time.Now()
	label := d.Service + "/" + d.Environment
	e.logf("▸ %s → %s: deploy %s (%s, attempt %d)", d.Service, d.Environment, d.Version, d.ID, d.Attempt)

	failure, err := e.runDeploy(runCtx, d, svc, rs, rel, verified, sink, secrets, label)
	if err != nil && runCtx.Err() == nil {
		// The step could not be started at all (its scratch files cannot be written): this
		// attempt failed, and is recorded so. Left running, it would stay held by this live
		// process, which no resume takes over while it lives (a server's, for days).
		failure, err = "the deploy step could not start: "+err.Error(), nil
	}
	// The health check runs under the lease too: one that outlasts it (a timeout of
	// minutes) must not let another worker take the deployment over meanwhile.
	if err == nil && failure == "" && svc.Health != nil && runCtx.Err() == nil {
		ok, detail := e.checkHealth(runCtx, svc, rs, d, rel, sink, secrets, label)
		if ok {
			d.Health = strata.Healthy
		} else {
			d.Health = strata.Unhealthy
			failure = "health check failed: " + detail
		}
	}
	stopLease()
	if cause := context.Cause(runCtx); errors.Is(cause, errLeaseLost) {
		sink.Close()
		return d, strata.Errorf(strata.EFAILED, "%s %s@%s to %s: %w; this process stopped its steps", d.ID, d.Service, d.Version, d.Environment, errLeaseLost)
	}
	if err != nil {
		sink.Close()
		return d, err
	}
	sink.Close()
	d.FinishedAt = e.now()
	if failure == "" {
		d.State = strata.Succeeded
		var err error
		h.succeeded(ctx, e, d, start, &err)
		return d, err
	}
	return e.fail(ctx, d, svc, secret.Redact(failure, secrets))
}

// runDeploy runs the deploy step. It returns a failure sentence when the step failed, or an
// error when the attempt could not run at all.
func (e *Engine) runDeploy(ctx context.Context, d *strata.Deployment, svc *strata.Service, rs *layer.Resolved, rel *strata.Release, verified bool, sink *logSink, secrets []string, label string) (string, error) {
	if svc.Deploy == nil {
		return "", nil
	}
	if !verified {
		if why := e.verifyArtifacts(rel); why != "" {
			return why, nil
		}
	}
	// Two scratch files per (service, environment), which one deployment holds at a time:
	// the config is rewritten in place, and emptied after the step when it holds secrets,
	// rather than removed. Making and removing files for every deployment cost more than
	// the rest of the deployment on ext4 without a journal, which checks every recently
	// deleted inode each time it allocates one (bench/README.md); they live in memory (a
	// tmpfs) where the machine has one, so secrets in the config never reach a disk. The
	// outputs file is made by the step that appends to it, and removed once read: a step
	// may write a secret there. The directory goes when the process exits (scratch.go).
	cfg, err := rs.JSON()
	if err != nil {
		return "", fmt.Errorf("deploy %s: %w", d.ID, err)
	}
	cfgPath, outPath, err := e.writeScratch(d, cfg)
	if err != nil {
		return "", fmt.Errorf("deploy %s: %w", d.ID, err)
	}
	defer dropScratch(cfgPath, outPath, len(secrets) > 0)
	cmd, err := layer.ExpandCommand(e.Project, rs, svc.Deploy.Run, svc.Deploy.Pos)
	if err != nil {
		return "", err
	}
	// The release's copy of the step's files runs, not what the project holds now.
	cmd.Text = e.recipeCommand(rel, cmd.Text)
	env := append(e.stepEnv(d, rel, rs, cfgPath, outPath), cmd.Env...)
	timeout := svc.Deploy.Timeout
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	out := e.stepOutput(label, "deploy", sink, secrets...)
	stop := e.progress(d.Service+" → "+d.Environment, "deploy")
	pgid := recordGroupLater(ctx, e.Store, d)
	res, err := e.runStep(ctx, step.Spec{
		Name: "deploy", Command: cmd.Text, Dir: e.Project.Dir, Env: env, Timeout: timeout, Output: out,
		Started: func(pid, group int) error {
			pgid.start(group)
			return nil
		},
	})
	pgid.stop()
	stop()
	out.Flush()
	if err != nil {
		if errors.Is(context.Cause(ctx), errLeaseLost) {
			return "", nil
		}
		if strata.ErrorCode(err) == strata.EFAILED {
			return err.Error(), nil
		}
		return "", fmt.Errorf("deploy %s: %w", d.ID, err)
	}
	if res.ExitCode != 0 {
		return fmt.Sprintf("deploy step exited with status %d", res.ExitCode), nil
	}
	outs, failure := readOutputs(outPath)
	if failure != "" {
		return failure, nil
	}
	d.Outputs = redactOutputs(outs, secrets)
	return "", nil
}

// stepEnv is the environment of a deploy step (DESIGN.md section 4).
func (e *Engine) stepEnv(d *strata.Deployment, rel *strata.Release, rs *layer.Resolved, cfgPath, outPath string) []string {
	env := append([]string{}, e.BaseEnv...)
	env = append(env, rs.Environ()...)
	return append(env,
		"STRATA_PROJECT="+e.Project.Name, "STRATA_ENV="+d.Environment, "STRATA_SERVICE="+d.Service,
		"STRATA_VERSION="+d.Version, "STRATA_RELEASE="+rel.ID, "STRATA_DIGEST="+rel.Digest,
		"STRATA_ARTIFACTS="+e.artifactDir(rel),
		"STRATA_DEPLOYMENT="+d.ID, "STRATA_ATTEMPT="+strconv.Itoa(d.Attempt),
		"STRATA_CONFIG="+cfgPath, "STRATA_OUTPUTS="+outPath,
		"STRATA_BUNDLE="+rel.Bundle, "STRATA_RECIPE="+e.recipePath(rel),
	)
}

// maxOutputs bounds a step's outputs file: outputs are stored with the deployment and read
// into every dependent's config, so they are names and addresses, not data.
const maxOutputs = 64 << 10

// readOutputs parses the KEY=value lines a step appended to its outputs file. A file over
// maxOutputs is not read: failure says why, for the deployment to fail with.
func readOutputs(path string) (_ map[string]string, failure string) {
	// Most steps write no outputs: one open that fails, without os.File's bookkeeping.
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, ""
	}
	f := os.NewFile(uintptr(fd), path)
	b, err := io.ReadAll(io.LimitReader(f, maxOutputs+1))
	f.Close()
	if err != nil {
		return nil, ""
	}
	if len(b) > maxOutputs {
		return nil, fmt.Sprintf("the step wrote more than %d KiB to $STRATA_OUTPUTS; outputs are KEY=value lines of names and addresses, keep them under %d KiB", maxOutputs>>10, maxOutputs>>10)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && k != "" && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, ""
}

// recordGroupAfter is how long a deploy step runs before its process group is recorded in
// the store. A step that ends sooner leaves nothing to stop, and a dead run's processes are
// found by their STRATA_DEPLOYMENT too (engine/resume.go), so the short steps of a large wave
// skip a write each.
const recordGroupAfter = 200 * time.Millisecond

// groupRecorder records a running step's process group once the step has run
// recordGroupAfter, so that `resume` can stop what is left of it after a crash.
type groupRecorder struct {
	ctx   context.Context
	store strata.DeploymentStore
	d     *strata.Deployment
	timer *time.Timer
	done  chan struct{}
}

func recordGroupLater(ctx context.Context, s strata.DeploymentStore, d *strata.Deployment) *groupRecorder {
	return &groupRecorder{ctx: ctx, store: s, d: d, done: make(chan struct{})}
}

// start arms the recording for the step's group.
func (g *groupRecorder) start(pgid int) {
	g.d.PGID = pgid
	g.timer = time.AfterFunc(recordGroupAfter, func() {
		defer close(g.done)
		// A lost lease shows here as ECONFLICT; the lease keeper stops the step on its
		// next renewal, so the error needs no handling of its own.
		_ = g.store.UpdateDeployment(g.ctx, g.d, nil)
	})
}

// stop cancels a recording not yet made, or waits for one under way, so the deployment's
// later writes never race with it.
func (g *groupRecorder) stop() {
	if g.timer != nil && !g.timer.Stop() {
		<-g.done
	}
}
