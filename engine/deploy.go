package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	// deployment is a rollback.
	SkipPolicy bool
	// release, when set, is the release to deploy, which a promotion looks up once for all
	// its environments rather than once for each.
	release *strata.Release
	// verified says the caller has checked release's artifacts against its digest already
	// (a promotion does, once per wave).
	verified bool
	// prev, when set, is the previous deployment of the caller's worker, succeeded but not
	// recorded: it is recorded with this deployment's claim, or on its own when there is
	// none. next, when set, receives this deployment when it succeeds, unrecorded, in turn
	// (carry.go).
	prev *finished
	next **finished
}

var errLeaseLost = errors.New("lost its lease; another worker may take the deployment over")

// Deploy runs one release into one environment and returns the deployment as it ended.
// A failed step or health check returns EFAILED (after the rollback policy ran); a closed
// policy or a missing dependency returns EBLOCKED before anything runs.
func (e *Engine) Deploy(ctx context.Context, req DeployRequest) (*strata.Deployment, error) {
	defer e.flush(ctx, &req.prev) // when no claim took it
	svc, env, err := e.lookup(req.Service, req.Env)
	if err != nil {
		return nil, err
	}
	rel := req.release
	if rel == nil {
		if rel, err = e.findRelease(ctx, req.Service, req.Version); err != nil {
			return nil, err
		}
	}
	facts, err := e.deployFacts(ctx, svc, env.Name, !req.SkipPolicy)
	if err != nil {
		return nil, err
	}
	if !req.SkipPolicy {
		if err := e.checkPolicy(svc, env, facts); err != nil {
			return nil, err
		}
	}
	rs, err := e.resolve(svc, env.Name, rel.Version, facts)
	if err != nil {
		return nil, err
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
	if err := e.claim(ctx, d, req.NoWait, &req.prev); err != nil {
		return nil, err
	}
	return e.execute(ctx, d, svc, rs, rel, req.verified, req.next)
}

func (e *Engine) lookup(service, env string) (*strata.Service, *strata.Environment, error) {
	svc := e.Project.Service(service)
	if svc == nil {
		return nil, nil, strata.Errorf(strata.ENOTFOUND, "unknown service %q; known: %s", service, strings.Join(e.Project.ServiceNames(), ", "))
	}
	en := e.Project.Environment(env)
	if en == nil {
		return nil, nil, strata.Errorf(strata.ENOTFOUND, "unknown environment %q; known: %s", env, strings.Join(e.Project.EnvironmentNames(), ", "))
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

// checkPolicy applies an environment's policy to a direct deploy: freeze, deploy windows,
// approvals (which only a promotion can collect) and dependencies.
func (e *Engine) checkPolicy(svc *strata.Service, env *strata.Environment, f plan.Facts) error {
	if fr := f.Frozen[env.Name]; fr != nil {
		return strata.Errorf(strata.EBLOCKED, "gate freeze: %s is frozen by %s (%s); `strata unfreeze %s` reopens it", env.Name, fr.Actor, fr.Reason, env.Name)
	}
	if ws := env.Policy.Windows; len(ws) > 0 {
		open := false
		for _, w := range ws {
			open = open || w.Contains(f.Now)
		}
		if !open {
			return strata.Errorf(strata.EBLOCKED, "gate window: %s is outside its deploy windows (%s); deploy inside one, or promote with --override-window --reason as an admin", env.Name, windowList(ws))
		}
	}
	if n := env.Policy.ApprovalsNeeded(); n > 0 {
		return strata.Errorf(strata.EBLOCKED, "gate approvals: %s needs %d approval(s) from someone other than you; use `strata promote %s --to STAGE` and have it approved", env.Name, n, svc.Name)
	}
	if missing := plan.MissingDependencies(svc, env.Name, f); len(missing) > 0 {
		return strata.Errorf(strata.EBLOCKED, "gate dependencies: %s", strings.Join(missing, "; "))
	}
	return nil
}

func windowList(ws []strata.Window) string {
	var s []string
	for _, w := range ws {
		s = append(s, w.Spec)
	}
	return strings.Join(s, ", ")
}

// resolve computes the config a deployment gets: dependencies' outputs and the
// environment's own secrets included.
func (e *Engine) resolve(svc *strata.Service, env, version string, f plan.Facts) (*layer.Resolved, error) {
	rt := &layer.Runtime{Version: version, Outputs: map[string]map[string]string{}, Secrets: map[string]string{}}
	for _, dep := range svc.DependsOn {
		if d := f.Current[plan.Pair{Service: dep, Environment: env}]; d != nil {
			rt.Outputs[dep] = d.Outputs
		}
	}
	load := e.Secrets
	if e.ServiceSecrets != nil {
		load = func(env string) (map[string]string, error) { return e.ServiceSecrets(e.Project, svc.Name, env) }
	}
	if load != nil {
		s, err := load(env)
		if err != nil {
			return nil, err
		}
		// A service sees only the secrets its own schema declares.
		for _, k := range svc.Schema {
			if v, ok := s[k.Name]; ok && k.Secret {
				rt.Secrets[k.Name] = v
			}
		}
		for _, k := range svc.Schema {
			if _, ok := rt.Secrets[k.Name]; k.Secret && k.From == "" && !ok {
				return nil, strata.Errorf(strata.EINVALID, "%s in %s needs the secret %s, which is not set; run `strata secret set %s %s`", svc.Name, env, k.Name, env, k.Name)
			}
		}
	}
	rs, err := layer.Resolve(e.Project, svc.Name, env, rt)
	if err != nil {
		return nil, fmt.Errorf("resolve %s config in %s: %w", svc.Name, env, err)
	}
	return rs, nil
}

// claim records d and takes its (service, environment), waiting for a holder to finish
// unless noWait. A holder whose process is gone is reported, not waited for. *prev, when
// there is one, is recorded with the first try.
func (e *Engine) claim(ctx context.Context, d *strata.Deployment, noWait bool, prev **finished) error {
	announced := false
	for {
		action := "deploy"
		if d.Kind == KindRollback {
			action = "rollback"
		}
		ev := e.event(action, d.Service, d.Environment, "", map[string]any{"version": d.Version, "kind": d.Kind, "promotion": d.PromotionID, "rollback_of": d.RollbackOf})
		err := e.create(ctx, d, ev, prev)
		if err == nil {
			return nil
		}
		if strata.ErrorCode(err) != strata.EBLOCKED {
			return fmt.Errorf("start deployment of %s@%s to %s: %w", d.Service, d.Version, d.Environment, err)
		}
		d.ID = ""
		holder := e.holder(ctx, d.Service, d.Environment)
		if holder != nil && !e.ownerAlive(holder) {
			return strata.Errorf(strata.EBLOCKED, "%s (%s@%s to %s) was interrupted: its process is gone; `strata resume` runs it again", holder.ID, holder.Service, holder.Version, holder.Environment)
		}
		if noWait {
			return err
		}
		if !announced && holder != nil {
			e.logf("… %s → %s: waiting for %s (%s@%s, attempt %d) to finish", d.Service, d.Environment, holder.ID, holder.Service, holder.Version, holder.Attempt)
			announced = true
		}
		select {
		case <-ctx.Done():
			return strata.Errorf(strata.EBLOCKED, "gave up waiting for %s to finish: %v", d.Environment, context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (e *Engine) holder(ctx context.Context, service, env string) *strata.Deployment {
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Service: service, Environment: env, States: []string{strata.Pending, strata.Running, strata.Interrupted}, Limit: 1})
	if err != nil || len(ds) == 0 {
		return nil
	}
	return ds[0]
}

// ownerAlive reports whether an active deployment's owner still runs it: on this host, its
// process (same pid and start time) lives; elsewhere, its lease has not lapsed.
func (e *Engine) ownerAlive(d *strata.Deployment) bool {
	// An interrupted deployment's owner is whoever took it over to resume it: judged like
	// any owner, or a second resume would take it from a live first one and run it twice.
	if d.Owner.Host == "" {
		return false
	}
	if d.Owner.Host == e.Owner.Host {
		return step.Alive(d.Owner)
	}
	return e.now().Before(d.LeaseUntil)
}

// execute runs one attempt of d: the deploy step, then the health check, then the rollback
// policy on failure. d is recorded as running by its caller.
//
// With keep set, a success is not recorded but put in *keep for the caller to record.
func (e *Engine) execute(ctx context.Context, d *strata.Deployment, svc *strata.Service, rs *layer.Resolved, rel *strata.Release, verified bool, keep **finished) (*strata.Deployment, error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopLease := e.keepLease(runCtx, d, cancel)
	sink := newLogSink(ctx, e.Store, d.ID, d.Attempt)
	secrets := secretValues(rs)
	start := time.Now()
	label := d.Service + "/" + d.Environment
	e.logf("▸ %s → %s: deploy %s (%s, attempt %d)", d.Service, d.Environment, d.Version, d.ID, d.Attempt)

	failure, err := e.runDeploy(runCtx, d, svc, rs, rel, verified, sink, secrets, label)
	// The health check runs under the lease too: one that outlasts it (a timeout of
	// minutes) must not let another worker take the deployment over meanwhile.
	if err == nil && failure == "" && svc.Health != nil && runCtx.Err() == nil {
		ok, detail := e.checkHealth(runCtx, svc, rs, d, sink, secrets, label)
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
		return d, strata.Errorf(strata.EFAILED, "%s %s@%s to %s: %v; this process stopped its steps", d.ID, d.Service, d.Version, d.Environment, errLeaseLost)
	}
	if err != nil {
		sink.Close()
		return d, err
	}
	sink.Close()
	d.FinishedAt = e.now()
	if failure == "" {
		d.State = strata.Succeeded
		f := e.keep(d, start)
		if keep != nil {
			*keep = f
			return d, nil
		}
		var err error
		f.err = &err
		e.flush(ctx, &f)
		return d, err
	}
	return e.fail(ctx, d, svc, secret.Redact(failure, secrets))
}

// fail records a failed attempt and applies the rollback policy.
func (e *Engine) fail(ctx context.Context, d *strata.Deployment, svc *strata.Service, failure string) (*strata.Deployment, error) {
	ctx = context.WithoutCancel(ctx)
	d.Error = failure
	var prev *strata.Deployment
	var lookErr error // why the rollback policy could not be applied, when it could not
	if svc.Rollback == "previous" && d.Kind != KindRollback {
		prev, lookErr = e.lastGood(ctx, d)
	}
	d.State = strata.Failed
	if prev != nil {
		d.State = strata.RolledBack
	}
	if err := e.Store.UpdateDeployment(ctx, d, e.event("deployment."+d.State, d.Service, d.Environment, d.ID, map[string]any{"version": d.Version, "attempt": d.Attempt, "error": failure})); err != nil {
		return d, fmt.Errorf("record %s: %w", d.ID, err)
	}
	e.logf("✗ %s → %s: %s %s: %s", d.Service, d.Environment, d.Version, d.State, failure)
	msg := fmt.Sprintf("%s@%s failed in %s (%s): %s", d.Service, d.Version, d.Environment, d.ID, failure)
	if prev == nil {
		switch {
		case lookErr != nil:
			msg += "; not rolled back: " + lookErr.Error()
		case svc.Rollback == "previous" && d.Kind != KindRollback:
			msg += "; no earlier good release there to roll back to"
		}
		return d, strata.Errorf(strata.EFAILED, "%s", msg)
	}
	e.logf("↺ %s → %s: rolling back to %s", d.Service, d.Environment, prev.Version)
	rb, err := e.Deploy(ctx, DeployRequest{Service: d.Service, Version: prev.Version, Env: d.Environment, Kind: KindRollback, RollbackOf: d.ID, SkipPolicy: true, PromotionID: d.PromotionID})
	if err != nil {
		return d, strata.Errorf(strata.EFAILED, "%s; the rollback to %s failed too: %v", msg, prev.Version, err)
	}
	return d, strata.Errorf(strata.EFAILED, "%s; rolled back to %s (%s)", msg, prev.Version, rb.ID)
}

// lastGood is the newest healthy deployment of another version in d's pair, made in the
// environment as it is now: a deployment made in an earlier short-lived environment of the
// same name (stale) ran somewhere else. The pair's succeeded history is read newest first, a
// page at a time, each page eight times the last (the filter has no cursor, so a page reads
// the earlier ones again); the first page usually holds the answer, and reading stops at the
// first stale deployment, since every older one is stale too.
func (e *Engine) lastGood(ctx context.Context, d *strata.Deployment) (*strata.Deployment, error) {
	f := strata.DeploymentFilter{Service: d.Service, Environment: d.Environment, States: []string{strata.Succeeded}}
	seen := 0
	for f.Limit = 8; ; f.Limit *= 8 {
		ds, err := e.Store.Deployments(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("find the last good release of %s in %s: %w", d.Service, d.Environment, err)
		}
		for _, x := range ds[min(seen, len(ds)):] {
			if e.stale(x) {
				return nil, nil
			}
			if x.ID != d.ID && x.Version != d.Version && x.Health != strata.Unhealthy {
				return x, nil
			}
		}
		if len(ds) < f.Limit {
			return nil, nil
		}
		seen = len(ds)
	}
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
	// outputs file is made by the step that appends to it; what an earlier run left there
	// is removed first.
	cfg, err := rs.JSON()
	if err != nil {
		return "", fmt.Errorf("deploy %s: %w", d.ID, err)
	}
	cfgPath, outPath, err := e.writeScratch(d, cfg)
	if err != nil {
		return "", fmt.Errorf("deploy %s: %w", d.ID, err)
	}
	if len(secrets) > 0 {
		defer os.WriteFile(cfgPath, nil, 0o600)
	}
	cmd, err := layer.Expand(e.Project, rs, svc.Deploy.Run, svc.Deploy.Pos, &layer.Runtime{Version: d.Version})
	if err != nil {
		return "", err
	}
	env := e.stepEnv(d, rel, rs, cfgPath, outPath)
	timeout := svc.Deploy.Timeout
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	out := e.stepOutput(label, "deploy", sink, secrets...)
	stop := e.progress(d.Service+" → "+d.Environment, "deploy")
	pgid := recordGroupLater(ctx, e.Store, d)
	res, err := e.runStep(ctx, step.Spec{
		Name: "deploy", Command: cmd, Dir: e.Project.Dir, Env: env, Timeout: timeout, Output: out,
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
	d.Outputs = redactOutputs(readOutputs(outPath), secrets)
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
	)
}

// readOutputs parses the KEY=value lines a step appended to its outputs file.
func readOutputs(path string) map[string]string {
	// Most steps write no outputs: one open that fails, without os.File's bookkeeping.
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), path)
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && k != "" && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func secretValues(rs *layer.Resolved) []string {
	var out []string
	for k, isSecret := range rs.Secret {
		if !isSecret {
			continue
		}
		if s, ok := rs.Values[k].(string); ok && s != "" && s != secret.Mask {
			out = append(out, s)
		}
	}
	return out
}

// keepLease renews d's lease every third of the TTL until stopped. When the store says
// another owner holds it, or renewals fail until the lease lapses, it cancels ctx with
// errLeaseLost: the step's process group is killed (the worker fences itself) before anyone
// else may take the deployment over.
func (e *Engine) keepLease(ctx context.Context, d *strata.Deployment, cancel context.CancelCauseFunc) (stop func()) {
	// Read d once, here: the step's callbacks write *d (UpdateDeployment) while this runs.
	id, owner, until := d.ID, d.Owner, d.LeaseUntil
	return every(e.LeaseTTL/3, func() bool {
		if ctx.Err() != nil {
			return false
		}
		next := e.now().Add(e.LeaseTTL)
		err := e.Store.RenewLease(ctx, id, owner, next)
		switch {
		case err == nil:
			until = next
		case strata.ErrorCode(err) == strata.ECONFLICT || !e.now().Before(until.Add(-e.LeaseTTL/6)):
			cancel(errLeaseLost)
			return false
		}
		return true
	})
}

// redactOutputs masks secret values in what a step wrote to $STRATA_OUTPUTS: outputs are
// stored, printed and shown by the API, and a dependent service gets its own secrets from
// its own environment's store, never through another service's outputs.
func redactOutputs(out map[string]string, secrets []string) map[string]string {
	for k, v := range out {
		out[k] = secret.Redact(v, secrets)
	}
	return out
}

// configHash fingerprints the config a deployment used, secrets masked: the fingerprint is
// stored, and a hash over secret values could be guessed offline for a weak secret.
func configHash(rs *layer.Resolved) string {
	b, _ := json.Marshal(rs.Redacted())
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
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
	store strata.Store
	d     *strata.Deployment
	timer *time.Timer
	done  chan struct{}
}

func recordGroupLater(ctx context.Context, s strata.Store, d *strata.Deployment) *groupRecorder {
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
