package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/capbuf"
	"github.com/strata-dev/strata/internal/suggest"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/secret"
	"github.com/strata-dev/strata/step"
)

// RunRequest asks for one run of a service's runbook in one environment.
type RunRequest struct {
	Service, Task, Env string
	// Reason says why, for the audit log (required when the runbook needs approvals).
	Reason string
}

// RunTask runs a service's runbook in env with env's config and secrets (`strata run`). A
// frozen environment blocks it (EBLOCKED); a runbook whose policy needs approvals is
// recorded waiting and returns EBLOCKED with the run, and runs when the last approval comes
// (ApproveTaskRun). A command that fails returns the run and EFAILED.
func (e *Engine) RunTask(ctx context.Context, req RunRequest) (*strata.TaskRun, error) {
	if err := strata.CheckText("--reason", req.Reason); err != nil {
		return nil, err
	}
	svc, env, err := e.lookup(req.Service, req.Env)
	if err != nil {
		return nil, err
	}
	rb := svc.Runbooks[req.Task]
	if rb == nil {
		if len(svc.Runbooks) == 0 {
			return nil, strata.Errorf(strata.EINVALID, "service %s has no runbooks; declare them as services.%s.runbooks in strata.yaml", svc.Name, svc.Name)
		}
		return nil, strata.Errorf(strata.EINVALID, "%s", suggest.Unknown("runbook of "+svc.Name, req.Task, svc.RunbookNames()))
	}
	if rb.Approvals > 0 && strings.TrimSpace(req.Reason) == "" {
		return nil, strata.Errorf(strata.EINVALID, "runbook %s of %s needs %d approval(s): say why with --reason (approvers read it)", rb.Name, svc.Name, rb.Approvals)
	}
	r := &strata.TaskRun{Service: svc.Name, Environment: env.Name, Task: rb.Name, State: strata.RunWaiting, Requester: e.Actor,
		Reason: req.Reason}
	if env.RunsOn != "" {
		// Its agent runs it, with the job made now (runjob.go): this process never opens
		// the environment's secrets.
		r.Pool = env.RunsOn
		if r.Job, err = e.newRunJob(ctx, svc, env, rb); err != nil {
			return nil, err
		}
	} else if _, err := e.prepareRun(ctx, svc, env, rb); err != nil {
		// Refused before anything is recorded, as a pool's job is: a config or a reference
		// that does not resolve (a dependency's output where it has not been deployed) is
		// bad input, not a run that failed.
		return nil, err
	}
	gates, err := e.runGates(ctx, svc, r)
	if err != nil {
		return nil, err
	}
	// A closed freeze refuses the run and records nothing; closed approvals record it
	// waiting, for approvers to see.
	if !gateOK(gates, plan.GateFreeze) {
		return nil, closedError(fmt.Sprintf("run of %s/%s in %s", r.Service, r.Task, r.Environment), gates)
	}
	now := e.now()
	r.CreatedAt = now
	switch {
	case plan.Open(gates) && r.Pool != "":
		r.State = strata.RunRunning // queued: owned by no one until an agent of the pool claims it
	case plan.Open(gates):
		r.State, r.Owner, r.LeaseUntil, r.StartedAt = strata.RunRunning, e.Owner, now.Add(e.runLease(rb)), now
	}
	detail := map[string]any{"task": rb.Name, "reason": req.Reason, "state": r.State}
	if r.Pool != "" {
		detail["pool"] = r.Pool
	}
	ev := e.event("run.request", svc.Name, env.Name, "", detail)
	if err := e.Store.CreateTaskRun(ctx, r, ev); err != nil {
		return nil, err
	}
	if r.State == strata.RunWaiting {
		// Judged again now that the run has the id `strata approve` names.
		if gates, err = e.runGates(ctx, svc, r); err != nil {
			return r, err
		}
		return r, runBlocked(r, gates)
	}
	if r.Pool != "" {
		return e.awaitQueued(ctx, r)
	}
	return e.executeRun(ctx, r, svc, env, rb)
}

// runGates asks plan for the gates of run r (a KindRun request): its runbook's approvals
// and its environment's freeze, worded as every other path words them.
func (e *Engine) runGates(ctx context.Context, svc *strata.Service, r *strata.TaskRun) ([]plan.Gate, error) {
	f, err := e.deployFacts(ctx, svc, r.Environment, true)
	if err != nil {
		return nil, err
	}
	req := plan.Request{Kind: plan.KindRun, ID: r.ID, Service: r.Service, Task: r.Task, Environment: r.Environment,
		Requester: r.Requester, Approvals: r.Approvals}
	return plan.Gates(e.Project, req, f), nil
}

// runBlocked is the EBLOCKED error of a run whose gates are not all open.
func runBlocked(r *strata.TaskRun, gates []plan.Gate) error {
	return closedError(fmt.Sprintf("run %s of %s/%s in %s", r.ID, r.Service, r.Task, r.Environment), gates)
}

// runLease is how long a run's owner holds it: the runbook's timeout and a minute.
func (e *Engine) runLease(rb *strata.Runbook) time.Duration {
	return runTimeout(rb) + time.Minute
}

func runTimeout(rb *strata.Runbook) time.Duration {
	if rb.Timeout > 0 {
		return rb.Timeout
	}
	return 30 * time.Minute
}

// ApproveTaskRun approves a waiting run as the engine's principal (not its requester) and
// runs it here when that was the last approval it needed.
func (e *Engine) ApproveTaskRun(ctx context.Context, id string) (*strata.TaskRun, error) {
	r, err := e.Store.TaskRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State != strata.RunWaiting {
		return r, strata.Errorf(strata.ECONFLICT, "run %s is %s, not waiting; only a waiting run can be approved", r.ID, r.State)
	}
	if r.Requester == e.Actor {
		return r, strata.Errorf(strata.EINVALID, "%s requested run %s and cannot approve it; approvals come from someone else", e.Actor, r.ID)
	}
	svc, env, err := e.lookup(r.Service, r.Environment)
	if err != nil {
		return r, err
	}
	rb := svc.Runbooks[r.Task]
	if rb == nil {
		return r, strata.Errorf(strata.EINVALID, "run %s is of runbook %s, which service %s no longer has", r.ID, r.Task, r.Service)
	}
	// A run of a pool gets its job made again, from the config and secrets of now: the one
	// made when it was asked for may be days old (a secret rotated since, a value mended), and
	// a local run resolves its config as it starts too. One that cannot be made now refuses
	// the approval, recording nothing.
	var job []byte
	if r.Pool != "" {
		if job, err = e.newRunJob(ctx, svc, env, rb); err != nil {
			return r, fmt.Errorf("approve run %s: make its job for pool %s: %w", r.ID, r.Pool, err)
		}
	}
	ev := e.event("run.approve", r.Service, r.Environment, r.ID, map[string]any{"task": r.Task})
	if err := e.Store.ApproveTaskRun(ctx, id, strata.Approval{Principal: e.Actor, At: e.now()}, ev); err != nil {
		return r, err
	}
	if r, err = e.Store.TaskRun(ctx, id); err != nil {
		return nil, err
	}
	gates, err := e.runGates(ctx, svc, r)
	if err != nil {
		return r, err
	}
	if !plan.Open(gates) {
		return r, runBlocked(r, gates)
	}
	if r.Pool != "" {
		// Queued for an agent of its pool (claimed by no one), not run here.
		ev = e.event("run.running", r.Service, r.Environment, r.ID, map[string]any{"task": r.Task, "pool": r.Pool})
		if err := e.Store.ClaimTaskRun(ctx, id, strata.Owner{}, time.Time{}, job, ev); err != nil {
			return r, err // another approver queued it
		}
		if r, err = e.Store.TaskRun(ctx, id); err != nil {
			return nil, err
		}
		return e.awaitQueued(ctx, r)
	}
	ev = e.event("run.running", r.Service, r.Environment, r.ID, map[string]any{"task": r.Task})
	if err := e.Store.ClaimTaskRun(ctx, id, e.Owner, e.now().Add(e.runLease(rb)), nil, ev); err != nil {
		return r, err // another approver's process runs it
	}
	if r, err = e.Store.TaskRun(ctx, id); err != nil {
		return nil, err
	}
	return e.executeRun(ctx, r, svc, env, rb)
}

// RejectTaskRun rejects a waiting run, with a reason.
func (e *Engine) RejectTaskRun(ctx context.Context, id, reason string) (*strata.TaskRun, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, strata.Errorf(strata.EINVALID, "reject needs --reason saying why (it is recorded in the audit log)")
	}
	r, err := e.Store.TaskRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State != strata.RunWaiting {
		return r, strata.Errorf(strata.ECONFLICT, "run %s is %s, not waiting", r.ID, r.State)
	}
	r.State, r.Error, r.FinishedAt = strata.RunRejected, "rejected by "+e.Actor+": "+reason, e.now()
	ev := e.event("run.reject", r.Service, r.Environment, r.ID, map[string]any{"task": r.Task, "reason": reason})
	if err := e.Store.UpdateTaskRun(ctx, r, ev); err != nil {
		return nil, err
	}
	return r, nil
}

// executeRun runs r's command, owned by this process, and records how it ended.
func (e *Engine) executeRun(ctx context.Context, r *strata.TaskRun, svc *strata.Service, env *strata.Environment, rb *strata.Runbook) (*strata.TaskRun, error) {
	r.ExitCode = -1
	out := &capbuf.Buffer{Max: strata.RunOutputCap}
	failure := e.runCommand(ctx, r, svc, env, rb, out)
	r.Output, r.FinishedAt = strata.KeepRunOutput(out.String(), out.Cut), e.now()
	r.State = strata.RunSucceeded
	if failure != "" {
		r.State, r.Error = strata.RunFailed, failure
	}
	detail := map[string]any{"task": r.Task, "exit_code": r.ExitCode}
	if r.Error != "" {
		detail["error"] = r.Error
	}
	if err := e.Store.UpdateTaskRun(context.WithoutCancel(ctx), r, e.event("run."+r.State, r.Service, r.Environment, r.ID, detail)); err != nil {
		return r, fmt.Errorf("record run %s: %w", r.ID, err)
	}
	if failure != "" {
		e.logf("✗ %s/%s in %s: %s", r.Service, r.Task, r.Environment, failure)
		return r, strata.Errorf(strata.EFAILED, "run %s of %s/%s in %s failed: %s", r.ID, r.Service, r.Task, r.Environment, failure)
	}
	e.logf("✓ %s/%s in %s: succeeded", r.Service, r.Task, r.Environment)
	return r, nil
}

// runCommand runs the runbook's command with env's config and secrets and returns why it
// failed ("" when it succeeded). Its output goes, redacted, to out and to the terminal.
func (e *Engine) runCommand(ctx context.Context, r *strata.TaskRun, svc *strata.Service, env *strata.Environment, rb *strata.Runbook, out io.Writer) string {
	pr, err := e.prepareRun(ctx, svc, env, rb)
	if err != nil {
		return err.Error()
	}
	rs, cmd, version := pr.rs, pr.cmd, pr.version
	secrets := secretValues(rs)
	vars := append([]string{}, e.BaseEnv...)
	vars = append(vars, rs.Environ()...)
	vars = append(vars, "STRATA_PROJECT="+e.Project.Name, "STRATA_ENV="+env.Name, "STRATA_SERVICE="+svc.Name,
		"STRATA_VERSION="+version, "STRATA_TASK="+rb.Name, "STRATA_RUN="+r.ID)
	vars = append(vars, cmd.Env...)
	// Redacted once, then kept and shown.
	ws := []io.Writer{out}
	if e.Log != nil {
		ws = append(ws, &linePrefixer{e: e, prefix: "  " + svc.Name + "/" + env.Name + " | "})
	}
	o := &output{redactor: secret.NewRedactor(io.MultiWriter(ws...), secrets)}
	e.logf("▸ %s → %s: run %s (%s)", svc.Name, env.Name, rb.Name, r.ID)
	res, err := e.runStep(ctx, step.Spec{Name: "run " + rb.Name, Command: cmd.Text, Dir: e.Project.Dir, Env: vars,
		Timeout: runTimeout(rb), Output: o})
	o.Flush()
	if err != nil {
		if strata.ErrorCode(err) == strata.EFAILED || errors.Is(err, context.DeadlineExceeded) {
			return err.Error()
		}
		return fmt.Sprintf("could not run: %v", err)
	}
	r.ExitCode = res.ExitCode
	if res.ExitCode != 0 {
		return fmt.Sprintf("the command exited with status %d", res.ExitCode)
	}
	return ""
}

// preparedRun is a runbook's command made concrete for a run: the config of the service in
// the environment as it is now, and the command interpolated with it.
type preparedRun struct {
	rs      *layer.Resolved
	cmd     layer.Command
	version string // what runs of the service there ("" when nothing does)
}

// prepareRun resolves svc's config in env as a deployment there would get it now (its
// dependencies' outputs, its secrets) and interpolates rb's command with it.
func (e *Engine) prepareRun(ctx context.Context, svc *strata.Service, env *strata.Environment, rb *strata.Runbook) (*preparedRun, error) {
	f, version, err := e.runFacts(ctx, svc, env)
	if err != nil {
		return nil, err
	}
	rs, err := e.resolve(svc, env.Name, version, f)
	if err != nil {
		return nil, err
	}
	cmd, err := layer.ExpandCommand(e.Project, rs, rb.Run, rb.Pos)
	if err != nil {
		return nil, fmt.Errorf("run %s of %s in %s: %w", rb.Name, svc.Name, env.Name, err)
	}
	return &preparedRun{rs: rs, cmd: cmd, version: version}, nil
}

// runFacts are the facts a run of svc in env is resolved with (its config as it is in env
// now), and the version that runs there (for ${release.version}; "" when none does).
func (e *Engine) runFacts(ctx context.Context, svc *strata.Service, env *strata.Environment) (plan.Facts, string, error) {
	f, err := e.deployFacts(ctx, svc, env.Name, false)
	if err != nil {
		return f, "", err
	}
	// deployFacts reads only svc's dependencies: what runs of svc itself is read here.
	d, err := e.running(ctx, svc.Name, env.Name)
	if err != nil || d == nil {
		return f, "", err
	}
	f.Current[plan.Pair{Service: svc.Name, Environment: env.Name}] = d
	return f, d.Version, nil
}

// failStrandedRuns fails the runs whose process died mid-run (on its host a dead process,
// elsewhere a lapsed lease), and the runs of a pool whose agent's lease lapsed. They are not
// run again by themselves: a task (a reindex, a key rotation) may not be safe to run twice,
// so whoever asked decides, with `strata run`. A run of a pool no agent has claimed yet is
// not stranded: it waits for one; but an observe step or a health check no one waits for
// any more is withdrawn.
func (e *Engine) failStrandedRuns(ctx context.Context) ([]*strata.TaskRun, error) {
	rs, err := e.Store.TaskRuns(ctx, strata.TaskRunFilter{States: []string{strata.RunRunning}})
	if err != nil {
		return nil, fmt.Errorf("find running runs: %w", err)
	}
	var failed []*strata.TaskRun
	var errs []error
	for _, r := range rs {
		if r.Pool != "" && r.Agent == "" && waitedFor(r.Kind) && e.now().Sub(r.CreatedAt) > MaxAgentWait {
			// No drift or health check waits for it any more (they wait MaxAgentWait at
			// most): no agent should run it for no one.
			r.State, r.FinishedAt = strata.RunFailed, e.now()
			r.Error = "withdrawn: no agent of pool " + r.Pool + " claimed it while its " + r.Kind + " was waited for"
			switch err := e.Store.UpdateTaskRun(ctx, r, nil); strata.ErrorCode(err) {
			case "", strata.ECONFLICT: // withdrawn, or claimed meanwhile
			default:
				errs = append(errs, err)
			}
			continue
		}
		if (r.Pool != "" && r.Agent == "") || e.alive(r.Owner, r.LeaseUntil) {
			continue
		}
		ok, err := e.failStranded(ctx, r)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			failed = append(failed, r)
		}
	}
	return failed, errors.Join(errs...)
}
