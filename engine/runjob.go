package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/capbuf"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/secret"
	"github.com/strata-dev/strata/step"
)

// A runbook run in an environment that runs_on a pool is not run here: it is recorded with
// its job (a Job of KindRun) for the pool, running and claimed by no one (queued); an agent
// of the pool claims it once (ClaimRunJob), runs it here (RunTaskJob) and reports its exit
// code and redacted output; the process that asked for it waits for that (awaitRun). A run
// is never run twice by itself: a claimed run whose agent's lease lapsed is failed, not
// claimed again, as a local run whose process died is.

// KindRun is the kind of a job that runs a runbook, KindDestroy of one that runs a
// service's destroy step (`env destroy` of an environment with runs_on).
const (
	KindRun     = "run"
	KindDestroy = "destroy"
	// KindObserve is drift's observe step (observejob.go).
	KindObserve = "observe"
	// KindHealth is a deployment's health check run again (recheck.go).
	KindHealth = "health"
)

// IsDeploymentKind reports whether kind is a deployment's (a job ClaimJob hands out): an
// agent runs those as deployments, and refuses a kind it does not know rather than run it
// as one.
func IsDeploymentKind(kind string) bool {
	// KindDestroy is a task run's, not a deployment's.
	return kind == KindDeploy || kind == KindPromotion || kind == KindRollback
}

// newRunJob is the job an agent of env's pool runs for runbook rb of svc: its command as
// layer.ExpandCommand makes it, env's config as it is now without the secrets (sealed), and
// the bundle of the release running there, whose recipe holds the runbook's script.
func (e *Engine) newRunJob(ctx context.Context, svc *strata.Service, env *strata.Environment, rb *strata.Runbook) ([]byte, error) {
	f, version, err := e.runFacts(ctx, svc, env)
	if err != nil {
		return nil, err
	}
	rs, err := e.resolveFor(svc, env, version, f)
	if err != nil {
		return nil, err
	}
	j := &Job{Project: e.Project.Name, Service: svc.Name, Environment: env.Name, Version: version, Kind: KindRun, Task: rb.Name,
		Timeout: strata.Duration(runTimeout(rb)), Config: map[string]any{}}
	if version != "" {
		rel, err := e.Store.Release(ctx, svc.Name, version)
		if err != nil {
			return nil, fmt.Errorf("run %s of %s in %s: the release running there: %w", rb.Name, svc.Name, env.Name, err)
		}
		j.carry(rel)
	}
	if err := e.sealSecrets(j, svc, rs); err != nil {
		return nil, err
	}
	cmd, err := layer.ExpandCommand(e.Project, rs, rb.Run, rb.Pos)
	if err != nil {
		return nil, err
	}
	j.Command, j.CommandEnv = cmd.Text, cmd.Env
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("run %s of %s in %s: the job: %w", rb.Name, svc.Name, env.Name, err)
	}
	return b, nil
}

// RunTaskJob runs an agent's job of KindRun or KindDestroy in e (an engine as RunJob's), once: keys opens
// its secrets; its output, redacted, goes to e.Log, to live (when not nil: the agent sends
// it to the server while the command runs; live must not block, and its errors are
// ignored) and, its first 256 KiB, into the outcome. ctx is the claim's: the agent cancels
// it when it can no longer renew its lease, and the command is stopped.
func (e *Engine) RunTaskJob(ctx context.Context, j *Job, keys *secret.Vault, live io.Writer) JobOutcome {
	exit := -1
	failed := func(why string) JobOutcome { return JobOutcome{State: strata.Failed, Error: why, ExitCode: &exit} }
	if j.Command == "" {
		return failed(fmt.Sprintf("run %s of %s has no command", j.Task, j.Service))
	}
	rs, rel, why := e.openJob(ctx, j, keys)
	if why != "" {
		return failed(why)
	}
	secrets := secretValues(rs)
	var vars []string
	if j.Kind == KindDestroy {
		if rel == nil {
			return failed(fmt.Sprintf("the destroy of %s in %s names no bundle: release %s again to destroy it on an agent", j.Service, j.Environment, j.Service))
		}
		// A destroy step gets what it gets locally (destroyStep): a deploy step's variables.
		d := &strata.Deployment{ID: j.Deployment, Service: j.Service, Environment: j.Environment, Version: j.Version, Attempt: 1}
		vars = e.stepEnv(d, rel, rs, "", "")
	} else {
		vars = append([]string{}, e.BaseEnv...)
		vars = append(vars, rs.Environ()...)
		vars = append(vars, "STRATA_PROJECT="+j.Project, "STRATA_ENV="+j.Environment, "STRATA_SERVICE="+j.Service,
			"STRATA_VERSION="+j.Version, "STRATA_TASK="+j.Task, "STRATA_RUN="+j.Run, "STRATA_RECIPE="+e.recipePath(rel))
	}
	vars = append(vars, j.CommandEnv...)
	out := &capbuf.Buffer{Max: strata.RunOutputCap}
	ws := []io.Writer{out}
	if e.Log != nil {
		ws = append(ws, &linePrefixer{e: e, prefix: "  " + j.Service + "/" + j.Environment + " | "})
	}
	if live != nil {
		ws = append(ws, live)
	}
	o := &output{redactor: secret.NewRedactor(io.MultiWriter(ws...), secrets)}
	e.logf("▸ %s → %s: %s %s (%s)", j.Service, j.Environment, j.Kind, j.Task, j.Run)
	res, err := e.runStep(ctx, step.Spec{Name: j.Kind + " " + j.Task, Command: e.recipeCommand(rel, j.Command), Dir: e.Project.Dir,
		Env: vars, Timeout: time.Duration(j.Timeout), Output: o})
	o.Flush()
	outcome := JobOutcome{State: strata.Succeeded, ExitCode: &exit, Output: strata.KeepRunOutput(out.String(), out.Cut)}
	switch {
	case ctx.Err() != nil:
		outcome.State, outcome.Error = strata.Failed, fmt.Sprintf("the run was stopped: %v", context.Cause(ctx))
	case err != nil:
		outcome.State, outcome.Error = strata.Failed, secret.Redact(err.Error(), secrets)
	default:
		exit = res.ExitCode
		if exit != 0 {
			outcome.State, outcome.Error = strata.Failed, fmt.Sprintf("the command exited with status %d", exit)
		}
	}
	return outcome
}

type noWaitKey struct{}

// WithoutWaiting returns ctx for a caller that does not wait for an agent (the dashboard,
// whose request must end): a run RunTask or ApproveTaskRun queues for a pool is returned
// queued (running, no agent yet) instead of waited for.
func WithoutWaiting(ctx context.Context) context.Context {
	return context.WithValue(ctx, noWaitKey{}, true)
}

// awaitQueued waits for r, a runbook run just queued for its pool, unless ctx says not to
// (WithoutWaiting).
func (e *Engine) awaitQueued(ctx context.Context, r *strata.TaskRun) (*strata.TaskRun, error) {
	if ctx.Value(noWaitKey{}) != nil {
		e.queued()
		e.queues.flush(ctx) // sent before the caller, which may be a process about to exit, goes on
		return r, nil
	}
	return e.awaitRun(ctx, r, 0)
}

// awaitRun waits until the agent that runs r reports, and says how r ended as executeRun
// does for a run this process ran. A claimed run whose agent's lease lapsed is failed here
// (failStranded), as resume would: it is not run again. claimWithin, when not 0, bounds how
// long it waits for an agent to claim r: then it stops waiting (EBLOCKED) and r stays queued.
func (e *Engine) awaitRun(ctx context.Context, r *strata.TaskRun, claimWithin time.Duration) (*strata.TaskRun, error) {
	var unclaimed <-chan time.Time
	if claimWithin > 0 {
		t := time.NewTimer(claimWithin)
		defer t.Stop()
		unclaimed = t.C
	}
	e.logf("… %s/%s in %s: %s %s", r.Service, r.Task, r.Environment, r.ID, PoolDetail(ctx, e.Store, r.Pool, e.now(), AgentGone))
	e.queued()                                  // a claim held in this or another process takes it at once
	reported, done := e.Wakes.awaitReport(r.ID) // a report (or output) to this process wakes the wait, as await's
	defer done()
	out := e.runOutput(r)
	claimed := false
	for {
		woken := reported.Wait() // before the read: a report after it wakes this wait
		got, err := e.Store.TaskRun(ctx, r.ID)
		if err != nil {
			if ctx.Err() != nil {
				return r, e.stoppedWaitingRun(ctx, r)
			}
			return r, fmt.Errorf("wait for %s: %w", r.ID, err)
		}
		r = got
		if r.Agent != "" && !claimed && r.State == strata.RunRunning {
			// Said before the output the agent has sent so far, which follows it.
			claimed = true
			e.logf("  %s/%s | agent %s runs %s", r.Service, r.Environment, r.Agent, r.ID)
		}
		out.Show(r.Output)
		if r.State != strata.RunRunning {
			out.End()
			break
		}
		if r.Agent != "" && !e.alive(r.Owner, r.LeaseUntil) {
			if _, err := e.failStranded(ctx, r); err != nil {
				return r, err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return r, e.stoppedWaitingRun(ctx, r)
		case <-unclaimed:
			if r.Agent == "" {
				return r, strata.Errorf(strata.EBLOCKED, "%s (%s/%s in %s) is %s after %s; it stays queued", r.ID, r.Service, r.Task, r.Environment,
					PoolDetail(ctx, e.Store, r.Pool, e.now(), AgentGone), claimWithin)
			}
			unclaimed = nil
		case <-woken:
		case <-time.After(awaitPoll):
		}
	}
	if r.State == strata.RunSucceeded {
		e.logf("✓ %s/%s in %s: succeeded on agent %s", r.Service, r.Task, r.Environment, r.Agent)
		return r, nil
	}
	e.logf("✗ %s/%s in %s: %s", r.Service, r.Task, r.Environment, r.Error)
	return r, strata.Errorf(strata.EFAILED, "run %s of %s/%s in %s failed%s: %s", r.ID, r.Service, r.Task, r.Environment, onAgent(r), r.Error)
}

// RunOutputShown shows the output of a run an agent runs as it arrives (the output so far
// the agent sends, then its report's), as a local run's output goes to the log while it
// runs: line by line, each line once, each with the prefix "  SERVICE/ENV | ". awaitRun
// shows it on e.Log; a CLI waiting on a server, on its stderr.
type RunOutputShown struct {
	logf   func(format string, args ...any) // nil: nothing is shown
	prefix string
	buf    []byte // the start of a line still to come
	text   string // the output shown so far
}

// NewRunOutputShown returns where r's output is shown, line by line, with logf (which
// adds the newline); nowhere for a nil logf, nor for an observe step or a health check,
// whose output is a finding, not lines to show.
func NewRunOutputShown(logf func(format string, args ...any), r *strata.TaskRun) *RunOutputShown {
	if r.Kind != strata.TaskRunbook && r.Kind != strata.TaskDestroy {
		logf = nil
	}
	return &RunOutputShown{logf: logf, prefix: "  " + r.Service + "/" + r.Environment + " | "}
}

// runOutput returns where awaitRun shows r's output: on e.Log, nowhere without one (-o
// json).
func (e *Engine) runOutput(r *strata.TaskRun) *RunOutputShown {
	if e.Log == nil {
		return &RunOutputShown{}
	}
	return NewRunOutputShown(e.logf, r)
}

// Show shows what output adds to the output shown so far. Output that does not go on
// from it (the report's whole output when a piece sent before was lost) is not shown
// again: the run's document holds it whole.
func (s *RunOutputShown) Show(output string) {
	if s.logf == nil || output == s.text {
		return
	}
	if strings.HasPrefix(output, s.text) {
		s.buf = append(s.buf, output[len(s.text):]...)
		for {
			i := bytes.IndexByte(s.buf, '\n')
			if i < 0 {
				break
			}
			s.logf("%s%s", s.prefix, s.buf[:i])
			s.buf = s.buf[i+1:]
		}
	}
	s.text = output
}

// End shows a last line that has no newline.
func (s *RunOutputShown) End() {
	if s.logf != nil && len(s.buf) > 0 {
		s.logf("%s%s", s.prefix, s.buf)
		s.buf = s.buf[:0]
	}
}

// onAgent is " (on agent A)" for a run an agent claimed, "" for one none did.
func onAgent(r *strata.TaskRun) string {
	if r.Agent == "" {
		return ""
	}
	return " (on agent " + r.Agent + ")"
}

// RunAction is the audit action of r's ending: "run.succeeded" or "run.failed" for a
// runbook run, "destroy" or "destroy.failed" for a destroy step, as a local one is audited;
// "" (not audited) for an observe step or a health check.
func RunAction(r *strata.TaskRun) string {
	if r.Kind == strata.TaskObserve || r.Kind == strata.TaskHealth {
		// Drift's look is not audited, wherever it runs, nor a check run again: the
		// health it changes is (RecordHealth).
		return ""
	}
	if r.Kind == strata.TaskDestroy {
		if r.State == strata.RunSucceeded {
			return "destroy"
		}
		return "destroy.failed"
	}
	return "run." + r.State
}

// stoppedWaitingRun is the error of a process that stopped waiting for r: r itself goes on,
// for an agent of its pool.
func (e *Engine) stoppedWaitingRun(ctx context.Context, r *strata.TaskRun) error {
	return strata.Errorf(strata.EBLOCKED, "stopped waiting for run %s (%s/%s in %s): %v; it stays with pool %s, whose agent runs it: `strata runs show %s` shows how it ends",
		r.ID, r.Service, r.Task, r.Environment, context.Cause(ctx), r.Pool, r.ID)
}

// failStranded fails r, a running run whose process (or agent) is gone, unless another
// process failed it first (then it reports false): it is not run again.
func (e *Engine) failStranded(ctx context.Context, r *strata.TaskRun) (bool, error) {
	r.State, r.FinishedAt = strata.RunFailed, e.now()
	if r.Agent != "" && waitedFor(r.Kind) {
		r.Error = "interrupted: agent " + r.Agent + ", which ran it, stopped renewing its lease (it died or lost the server)"
	} else if r.Agent != "" {
		r.Error = "interrupted: agent " + r.Agent + ", which ran it, stopped renewing its lease (it died or lost the server); it was not run again: run it with `strata run` if that is safe"
	} else {
		r.Error = "interrupted: the process running it (" + r.Owner.ID() + ") died; it was not run again: run it with `strata run` if that is safe"
	}
	var ev *strata.Event
	if action := RunAction(r); action != "" {
		ev = e.event(action, r.Service, r.Environment, r.ID, map[string]any{"task": r.Task, "error": r.Error, "exit_code": r.ExitCode})
	}
	err := e.Store.UpdateTaskRun(ctx, r, ev)
	switch strata.ErrorCode(err) {
	case "":
		return true, nil
	case strata.ECONFLICT: // another process failed it first, or its agent reported
		return false, nil
	}
	return false, err
}

// openJob opens what a task job of an agent runs with: its config with the secrets opened by
// keys, and, when the job names a bundle, the release, its artifacts checked against its
// digest (its trees are checked again before anything of it runs, as for a deployment). why
// says what could not be opened.
func (e *Engine) openJob(ctx context.Context, j *Job, keys *secret.Vault) (rs *layer.Resolved, rel *strata.Release, why string) {
	rs, err := e.openSecrets(ctx, j, keys)
	if err != nil {
		return nil, nil, err.Error()
	}
	if j.Bundle != "" {
		rel = j.release()
		if why := e.verifyArtifacts(rel); why != "" {
			return nil, nil, why
		}
	}
	return rs, rel, ""
}
