package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/step"
)

// ResumeResult is what `strata resume` did.
type ResumeResult struct {
	Resumed    []*strata.Deployment
	Promotions []*PromotionResult
	// Destroyed lists the short-lived environments whose time to live had run out.
	Destroyed []DestroyedEnv
	// Runs are the runbook runs whose process died mid-run, now failed.
	Runs []*strata.TaskRun
	// Switches are the group switches run again after their process died, or run once
	// their approvals and gates held (switch.go).
	Switches []*strata.Switch
}

// Interrupted returns the active deployments whose owner is gone: on this host its process
// died; elsewhere its lease lapsed.
func (e *Engine) Interrupted(ctx context.Context) ([]*strata.Deployment, error) {
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Pending, strata.Running, strata.Interrupted}})
	if err != nil {
		return nil, fmt.Errorf("find interrupted deployments: %w", err)
	}
	var out []*strata.Deployment
	for i := len(ds) - 1; i >= 0; i-- { // oldest first
		if !e.ownerAlive(ds[i]) {
			out = append(out, ds[i])
		}
	}
	return out, nil
}

// Resume takes over every interrupted deployment (those of owners elsewhere whose lease
// lapsed with ReclaimLapsed, then those whose process died on this host), stops what is
// left of its dead run's steps, and runs it again as the next attempt (same id). Then it takes over every running
// promotion whose owner is gone and carries it on (orphan.go), runs the waiting promotions
// whose gates have opened, and destroys the short-lived environments whose time
// to live has run out (DestroyExpired). Failures of single deployments are reported in the
// result and in the returned error; Resume goes on with the rest.
func (e *Engine) Resume(ctx context.Context) (*ResumeResult, error) {
	res := &ResumeResult{}
	var errs []error
	// Owners elsewhere whose lease lapsed first, taken in one compare-and-set: of several
	// workers passing at once (servers on one store), each takes different ones.
	until := e.now().Add(e.LeaseTTL)
	taken, err := e.Store.ReclaimLapsed(ctx, e.Owner, e.now(), until, 0, func(d *strata.Deployment) *strata.Event {
		return e.event("deployment.interrupted", d.Service, d.Environment, d.ID, map[string]any{"attempt": d.Attempt, "owner": d.Owner.ID()})
	})
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range taken {
		if err := e.bundleFor(ctx, d); err != nil {
			if strata.IsTerminal(err) {
				// Its bundle is damaged: no later pass can run it either.
				errs = append(errs, e.abandon(ctx, d, err))
				res.Resumed = append(res.Resumed, d)
				continue
			}
			// Left interrupted, ours until its lease lapses again.
			errs = append(errs, err)
			continue
		}
		got, err := e.resumeTaken(ctx, d, until)
		if got != nil {
			res.Resumed = append(res.Resumed, got)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Then those whose owner died on this host, lease or not.
	ds, err := e.Interrupted(ctx)
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	for _, d := range ds {
		got, err := e.resumeOne(ctx, d)
		if got != nil {
			res.Resumed = append(res.Resumed, got)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	finished, err := e.finishPromotions(ctx)
	res.Promotions = append(res.Promotions, finished...)
	if err != nil {
		errs = append(errs, err)
	}
	landed, err := e.landLost(ctx)
	res.Promotions = append(res.Promotions, landed...)
	if err != nil {
		errs = append(errs, err)
	}
	ps, err := e.Store.Promotions(ctx, strata.PromotionFilter{States: []string{strata.Waiting}})
	if err != nil {
		return res, fmt.Errorf("find waiting promotions: %w", err)
	}
	for i := len(ps) - 1; i >= 0; i-- {
		pr, err := e.Advance(ctx, ps[i].ID)
		if strata.ErrorCode(err) == strata.EBLOCKED {
			continue
		}
		if pr != nil && pr.Promotion.State != strata.Waiting {
			res.Promotions = append(res.Promotions, pr)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	runs, err := e.failStrandedRuns(ctx)
	res.Runs = runs
	if err != nil {
		errs = append(errs, err)
	}
	switches, err := e.resumeSwitches(ctx)
	res.Switches = switches
	if err != nil {
		errs = append(errs, err)
	}
	destroyed, err := e.DestroyExpired(ctx)
	res.Destroyed = destroyed
	if err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

func (e *Engine) resumeOne(ctx context.Context, d *strata.Deployment) (*strata.Deployment, error) {
	bundleErr := e.bundleFor(ctx, d)
	if bundleErr != nil && !strata.IsTerminal(bundleErr) {
		return nil, bundleErr // left interrupted: the bundle may be released again
	}
	from := d.Owner
	until := e.now().Add(e.LeaseTTL)
	ev := e.event("deployment.interrupted", d.Service, d.Environment, d.ID, map[string]any{"attempt": d.Attempt, "owner": from.ID()})
	if err := e.Store.TakeOver(ctx, d.ID, from, e.Owner, until, ev); err != nil {
		if strata.ErrorCode(err) == strata.ECONFLICT {
			return nil, nil // another worker took it first
		}
		return nil, fmt.Errorf("take over %s: %w", d.ID, err)
	}
	if bundleErr != nil {
		return d, e.abandon(ctx, d, bundleErr) // final: no later pass could run it either
	}
	return e.resumeTaken(ctx, d, until)
}

// bundleFor makes sure the bundle of d's release is here. One this machine cannot have
// leaves the deployment interrupted (and says why) rather than failing it, so it resumes
// once the bundle is back; one that is damaged is final (strata.IsTerminal), and the
// caller fails the deployment rather than trying it again on every pass.
func (e *Engine) bundleFor(ctx context.Context, d *strata.Deployment) error {
	if rel, err := e.Store.Release(ctx, d.Service, d.Version); err == nil {
		if err := e.ensureBundle(ctx, rel); err != nil {
			return fmt.Errorf("resume %s (%s@%s to %s): %w", d.ID, d.Service, d.Version, d.Environment, err)
		}
	}
	return nil
}

// resumeTaken resumes d, which this engine has just taken over (its lease until until) from
// its gone owner, whom d still names: what is left of the dead run is stopped, and d runs
// again as its next attempt.
func (e *Engine) resumeTaken(ctx context.Context, d *strata.Deployment, until time.Time) (*strata.Deployment, error) {
	e.logf("↻ %s → %s: %s was interrupted in attempt %d; stopping what is left of it", d.Service, d.Environment, d.ID, d.Attempt)
	if d.Owner.Host != e.Owner.Host {
		d.PGID = 0 // another host's process group: not this host's to stop
	}
	stopLeftovers(d)
	svc, _, err := e.lookup(d.Service, d.Environment)
	if err != nil {
		return d, e.abandon(ctx, d, err)
	}
	rel, err := e.Store.Release(ctx, d.Service, d.Version)
	if err != nil {
		return d, e.abandon(ctx, d, err)
	}
	f, err := e.deployFacts(ctx, svc, d.Environment, false)
	if err != nil {
		return d, err
	}
	rs, err := e.resolve(svc, d.Environment, d.Version, f)
	if err != nil {
		return d, e.abandon(ctx, d, err)
	}
	if d.Kind == KindRollback {
		// A rollback resumes with the config it took from the deployment it returns to.
		rs = reuseKept(rs, d.Config)
	}
	if err := e.checkSteps(svc, rs, rel); err != nil {
		return d, e.abandon(ctx, d, err)
	}
	d.Owner, d.LeaseUntil = e.Owner, until
	d.Attempt++
	d.State, d.PGID, d.Error, d.Health = strata.Running, 0, "", ""
	d.Config, d.ConfigHash = rs.Redacted(), configHash(rs)
	if err := e.Store.UpdateDeployment(ctx, d, e.event("deployment.resume", d.Service, d.Environment, d.ID, map[string]any{"attempt": d.Attempt})); err != nil {
		return d, fmt.Errorf("resume %s: %w", d.ID, err)
	}
	return e.execute(ctx, d, svc, rs, rel, false, nil)
}

// abandon marks a deployment that cannot run again (its service or release is gone, its
// bundle damaged) failed. The error it returns is final: nothing is left to try.
func (e *Engine) abandon(ctx context.Context, d *strata.Deployment, cause error) error {
	d.Owner = e.Owner
	d.State, d.Error, d.FinishedAt = strata.Failed, "cannot resume: "+cause.Error(), e.now()
	if err := e.Store.UpdateDeployment(ctx, d, e.event("deployment.failed", d.Service, d.Environment, d.ID, map[string]any{"error": d.Error})); err != nil {
		return err
	}
	return strata.Terminal(strata.Errorf(strata.EFAILED, "%s: %s", d.ID, d.Error))
}

// stopLeftovers stops every process a dead run of d left behind: its recorded process
// group, and any process whose environment names the deployment (a step that started its
// own process group still inherits STRATA_DEPLOYMENT), so no two copies of a step run.
func stopLeftovers(d *strata.Deployment) {
	if d.PGID > 0 {
		_ = step.KillGroup(d.PGID, 5*time.Second)
	}
	for _, pid := range processesOf(d.ID) {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
			_ = step.KillGroup(pgid, 5*time.Second)
		} else {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// processesOf lists the processes whose environment holds STRATA_DEPLOYMENT=id.
func processesOf(id string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	needle := []byte("STRATA_DEPLOYMENT=" + id + "\x00")
	self := os.Getpid()
	var out []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err != nil {
			continue
		}
		if bytes.Contains(append(b, 0), needle) {
			out = append(out, pid)
		}
	}
	return out
}
