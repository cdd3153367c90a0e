package strata

import (
	"context"
	"time"
	"unicode/utf8"
)

// Task run states. A run that needs approvals waits for them; a run whose process died
// mid-run is failed by the next resume (a task is not run twice by itself: reindexing twice
// may not be safe).
const (
	RunWaiting   = "waiting"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunRejected  = "rejected"
)

// RunOutputCap bounds the output a run keeps: its first 256 KiB.
const RunOutputCap = 256 << 10

// RunOutputCut ends a run's output that was cut at RunOutputCap.
const RunOutputCut = "\n… (cut: the first 256 KiB are kept)"

// KeepRunOutput is output as a run keeps it: whole when it fits RunOutputCap and nothing
// was cut from it before (cut), else its first RunOutputCap bytes cut on a character's
// start (CutText), without the start of a character the earlier cut split, and
// RunOutputCut.
func KeepRunOutput(output string, cut bool) string {
	if !cut && len(output) <= RunOutputCap {
		return output
	}
	kept := CutText(output, RunOutputCap)
	for i := len(kept) - 1; i >= 0 && i >= len(kept)-utf8.UTFMax; i-- {
		if utf8.RuneStart(kept[i]) {
			if !utf8.FullRuneInString(kept[i:]) {
				kept = kept[:i]
			}
			break
		}
	}
	return kept + RunOutputCut
}

// Task run kinds: what a run does.
const (
	TaskRunbook = "run"
	TaskDestroy = "destroy"
	// TaskObserve is drift's observe step, run by an agent (its Output the version).
	TaskObserve = "observe"
	// TaskHealth is a deployment's health check run again by an agent (Engine.Recheck of
	// an environment with runs_on): its Output is "healthy" or "unhealthy", its Error
	// what a failing check saw, redacted on the agent.
	TaskHealth = "health"
)

// TaskKinds returns every kind a task run may have, in the order messages list them.
func TaskKinds() []string {
	return []string{TaskRunbook, TaskDestroy, TaskObserve, TaskHealth}
}

// TaskRun is one run of a service's runbook in one environment (`strata run`).
type TaskRun struct {
	ID          string `json:"id"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Task        string `json:"task"`
	// Kind is what the run does: TaskRunbook (a runbook's command), TaskDestroy (a
	// service's destroy step, run by an agent for `env destroy`; its Task is "destroy"),
	// TaskObserve (drift's observe step, run by an agent; its Task is "observe") or
	// TaskHealth (a health check run again by an agent; its Task is "health").
	Kind      string     `json:"kind"`
	State     string     `json:"state"`
	Requester string     `json:"requester"`
	Reason    string     `json:"reason,omitempty"`
	Approvals []Approval `json:"approvals"`
	// ExitCode is the command's exit status once it ended (-1 when it did not run to an end).
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	// Output is the command's output, secret values redacted, its first 256 KiB.
	Output string `json:"output,omitempty"`
	// Pool is the runs_on of its environment when an agent of that pool runs it ("" when
	// it runs where it was asked for). A run of a pool that is running with Fence 0 is
	// queued: no agent has claimed it yet. Agent names the agent that claimed it; a claimed
	// run is never claimed again (Fence is 1 once claimed).
	Pool  string `json:"pool,omitempty"`
	Agent string `json:"agent,omitempty"`
	Fence int64  `json:"-"`
	// Job is what the agent runs (engine.Job as JSON, no secret's plaintext); the store
	// keeps it for the claim and returns it only with ClaimRunJob.
	Job []byte `json:"-"`
	// Owner and LeaseUntil say which process (or agent, with AgentOwner) runs it while it
	// runs.
	Owner      Owner     `json:"-"`
	LeaseUntil time.Time `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// TaskRunFilter selects task runs. Zero fields select everything.
type TaskRunFilter struct {
	Service     string
	Environment string
	States      []string
	// Kinds selects runs of these kinds (TaskRunbook, TaskDestroy, TaskObserve, TaskHealth).
	Kinds []string
	Limit int
}

// TaskRunStore keeps runs of runbooks.
type TaskRunStore interface {
	// CreateTaskRun records r (ID and CreatedAt set when empty), waiting or running (then
	// owned by r.Owner until r.LeaseUntil, or, for a run of a pool, owned by no one until an
	// agent claims it), with its Pool and Job. EINVALID when it has no service, environment,
	// task, a state other than those or a kind not of TaskKinds (none is TaskRunbook).
	CreateTaskRun(ctx context.Context, r *TaskRun, e *Event) error
	// ClaimTaskRun moves a waiting run to running, owned by owner until until, only if it is
	// still waiting (compare and set): of several processes that saw its last approval, one
	// runs it. A run of a pool is claimed with the zero owner: it is then queued for an
	// agent of its pool (ClaimRunJob), with job, when not nil, in place of the job made when
	// it was asked for. ECONFLICT when it is no longer waiting; ENOTFOUND when there is none.
	ClaimTaskRun(ctx context.Context, id string, owner Owner, until time.Time, job []byte, e *Event) error
	// UpdateTaskRun writes r's state, exit code, error, output and times, clearing its owner
	// once it has ended, or a waiting run's rejection. ECONFLICT when the stored run is
	// running and its owner is not r.Owner, or it has ended already; ENOTFOUND when there is
	// none.
	UpdateTaskRun(ctx context.Context, r *TaskRun, e *Event) error
	// ApproveTaskRun adds a's approval to a waiting run. ECONFLICT when that principal has
	// approved it already or it is not waiting; ENOTFOUND when there is none.
	ApproveTaskRun(ctx context.Context, id string, a Approval, e *Event) error
	// ClaimRunJob gives c.Agent the oldest run of c.Pool in one of c.Envs (any of the
	// pool's with c.AllEnvs) that is running and not yet claimed: it becomes owned by
	// AgentOwner(c.Agent, 1) with a lease until c.Until, started at c.Now, its Fence 1. It
	// returns the run with its Job and appends e (nil: not audited) with the run as its
	// subject. A claimed run is never claimed again, even once its lease lapsed: a task is
	// not run twice by itself (the lapse fails it). Concurrent claimers each get a
	// different run. ENOTFOUND when there is none.
	ClaimRunJob(ctx context.Context, c JobClaim, e *Event) (*TaskRun, error)
	// HeldRunJob is HeldJob for task runs (of c.TaskKinds, every kind when none): the run
	// c.Agent holds claimed since c.Since, its lease not lapsed, given again with its lease
	// until c.Until. A run is still claimed once: this is that claim's answer, sent again.
	// ENOTFOUND when there is none.
	HeldRunJob(ctx context.Context, c JobClaim) (*TaskRun, error)
	// RenewTaskRun extends the lease of a running run owned by owner to until. ECONFLICT
	// when owner no longer holds it (it ended, or was failed when its lease lapsed);
	// ENOTFOUND when there is none.
	RenewTaskRun(ctx context.Context, id string, owner Owner, until time.Time) error
	// AppendTaskRunOutput adds data, output of a running run redacted where it ran, to
	// the end of its Output while it runs (an agent's run shows its output so far), compare-and-set
	// on owner (for an agent's claim, AgentOwner of its name and fence): of what
	// arrives only the first RunOutputCap bytes are kept, cut on a character's start. The
	// run's ending (UpdateTaskRun) writes its whole output over it. ECONFLICT when the run
	// has ended or owner does not hold it; ENOTFOUND when there is none.
	AppendTaskRunOutput(ctx context.Context, id string, owner Owner, data string) error
	// TaskRun returns one run; ENOTFOUND when there is none.
	TaskRun(ctx context.Context, id string) (*TaskRun, error)
	// TaskRuns returns the runs f selects, newest first.
	TaskRuns(ctx context.Context, f TaskRunFilter) ([]*TaskRun, error)
}
