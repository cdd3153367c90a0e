package strata

import (
	"context"
	"time"
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

// TaskRun is one run of a service's runbook in one environment (`strata run`).
type TaskRun struct {
	ID          string     `json:"id"`
	Service     string     `json:"service"`
	Environment string     `json:"environment"`
	Task        string     `json:"task"`
	State       string     `json:"state"`
	Requester   string     `json:"requester"`
	Reason      string     `json:"reason,omitempty"`
	Approvals   []Approval `json:"approvals"`
	// ExitCode is the command's exit status once it ended (-1 when it did not run to an end).
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	// Output is the command's output, secret values redacted, its first 256 KiB.
	Output string `json:"output,omitempty"`
	// Owner and LeaseUntil say which process runs it while it runs.
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
	Limit       int
}

// TaskRunStore keeps runs of runbooks.
type TaskRunStore interface {
	// CreateTaskRun records r (ID and CreatedAt set when empty), waiting or running (then
	// owned by r.Owner until r.LeaseUntil). EINVALID when it has no service, environment,
	// task or a state other than those.
	CreateTaskRun(ctx context.Context, r *TaskRun, e *Event) error
	// ClaimTaskRun moves a waiting run to running, owned by owner until until, only if it is
	// still waiting (compare and set): of several processes that saw its last approval, one
	// runs it. ECONFLICT when it is no longer waiting; ENOTFOUND when there is none.
	ClaimTaskRun(ctx context.Context, id string, owner Owner, until time.Time, e *Event) error
	// UpdateTaskRun writes r's state, exit code, error, output and times, clearing its owner
	// once it has ended, or a waiting run's rejection. ECONFLICT when the stored run is
	// running and its owner is not r.Owner, or it has ended already; ENOTFOUND when there is
	// none.
	UpdateTaskRun(ctx context.Context, r *TaskRun, e *Event) error
	// ApproveTaskRun adds a's approval to a waiting run. ECONFLICT when that principal has
	// approved it already or it is not waiting; ENOTFOUND when there is none.
	ApproveTaskRun(ctx context.Context, id string, a Approval, e *Event) error
	// TaskRun returns one run; ENOTFOUND when there is none.
	TaskRun(ctx context.Context, id string) (*TaskRun, error)
	// TaskRuns returns the runs f selects, newest first.
	TaskRuns(ctx context.Context, f TaskRunFilter) ([]*TaskRun, error)
}
