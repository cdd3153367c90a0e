package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/strata-dev/strata"
)

// RunRequest is the body of POST /api/v1/runs: run a service's runbook in an environment.
type RunRequest struct {
	Service string `json:"service"`
	Task    string `json:"task"`
	Env     string `json:"env"`
	Reason  string `json:"reason,omitempty"`
}

// RunIDRequest names one run: GET /api/v1/runs/{id} and POST /api/v1/runs/{id}/approve.
type RunIDRequest struct {
	ID string `json:"-" path:"id"`
}

// RunRejectRequest is POST /api/v1/runs/{id}/reject.
type RunRejectRequest struct {
	ID     string `json:"-" path:"id"`
	Reason string `json:"reason"`
}

// RunsRequest is GET /api/v1/runs: the newest runs, of one environment or service.
type RunsRequest struct {
	Env     string `json:"-" query:"env"`
	Service string `json:"-" query:"service"`
	Limit   int    `json:"-" query:"limit"`
	// Kind selects the runs of one kind: run (runbooks), destroy, observe, health, or all;
	// empty lists runbooks and destroy steps (drift's observe steps and health checks run
	// again on agents are many, and said by drift and the switch gates).
	Kind string `json:"-" query:"kind"`
}

// RunKinds reads req's Kind as the kinds it selects; EINVALID naming the flag when it is
// none of run, destroy, observe, health or all.
func (req RunsRequest) RunKinds() ([]string, error) {
	switch req.Kind {
	case "":
		return []string{strata.TaskRunbook, strata.TaskDestroy}, nil
	case "all":
		return nil, nil
	case strata.TaskRunbook, strata.TaskDestroy, strata.TaskObserve, strata.TaskHealth:
		return []string{req.Kind}, nil
	}
	return nil, strata.Errorf(strata.EINVALID, "--kind %q: want run, destroy, observe, health or all", req.Kind)
}

// WriteRun prints a run: its state, its approvals or output, and why it failed.
func WriteRun(w io.Writer, r *strata.TaskRun) {
	fmt.Fprintf(w, "run %s: %s/%s in %s: %s", r.ID, r.Service, r.Task, r.Environment, r.State)
	if r.ExitCode >= 0 {
		fmt.Fprintf(w, " (exit %d)", r.ExitCode)
	}
	fmt.Fprintln(w)
	if d := RunPlace(r); d != "" {
		fmt.Fprintf(w, "  %s\n", d)
	}
	fmt.Fprintf(w, "  requested by %s", r.Requester)
	if r.Reason != "" {
		fmt.Fprintf(w, ": %s", r.Reason)
	}
	fmt.Fprintln(w)
	for _, a := range r.Approvals {
		fmt.Fprintf(w, "  approved by %s at %s\n", a.Principal, a.At.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  %s\n", r.Error)
	}
	if r.Output != "" {
		fmt.Fprintln(w, "  output:")
		for _, line := range strings.Split(strings.TrimRight(r.Output, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
}

// WriteRuns prints runs, one a line, newest first.
func WriteRuns(w io.Writer, rs []*strata.TaskRun) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no runs")
		return
	}
	for _, r := range rs {
		fmt.Fprintf(w, "%s  %-10s %s/%s in %s by %s at %s", r.ID, r.State, r.Service, r.Task, r.Environment, r.Requester,
			r.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"))
		if d := RunPlace(r); d != "" {
			fmt.Fprintf(w, " (%s)", d)
		}
		fmt.Fprintln(w)
	}
}

// RunPlace says where a run of a pool runs: "waiting for an agent of pool P" while no agent
// has claimed it, else "on agent A"; "" for a run that runs where it was asked for.
func RunPlace(r *strata.TaskRun) string {
	switch {
	case r.Pool == "":
		return ""
	case r.Agent != "":
		return "on agent " + r.Agent + " of pool " + r.Pool
	case r.State == strata.RunRunning:
		return "waiting for an agent of pool " + r.Pool
	}
	return "for pool " + r.Pool
}
