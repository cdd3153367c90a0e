package http

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// runbookRow is one runbook of a service, as the environment page lists it.
type runbookRow struct {
	Service, Task, Run string
	Approvals          int
}

// envRunbooks fills the environment page's runbooks and their newest runs.
func (u *ui) envRunbooks(ctx context.Context, v *visit, view *envView) error {
	name := view.Env.Name
	for _, s := range v.engine.Project.Services {
		for _, t := range s.RunbookNames() {
			rb := s.Runbooks[t]
			view.Runbooks = append(view.Runbooks, runbookRow{Service: s.Name, Task: t, Run: rb.Run, Approvals: rb.Approvals})
		}
	}
	view.CanRun = v.can(strata.ActDeploy) && v.covers(name)
	view.CanDecide = v.can(strata.ActApprove) && v.covers(name)
	view.Principal = v.token.Name
	runs, err := v.engine.Store.TaskRuns(ctx, strata.TaskRunFilter{Environment: name, Kinds: []string{strata.TaskRunbook, strata.TaskDestroy}, Limit: 20})
	view.TaskRuns = runs
	return err
}

// runTask runs a runbook from the environment page, as `strata run` does (the same gates
// and audit events), and returns to the page with how it went. The page waits for the
// task, up to its timeout: runbooks are short operational tasks.
func (u *ui) runTask(w http.ResponseWriter, r *http.Request, v *visit) {
	name := r.PathValue("name")
	if v.engine.Project.Environment(name) == nil {
		u.fail(w, r, v, strata.Errorf(strata.ENOTFOUND, "no environment %q in the project", name))
		return
	}
	if !v.can(strata.ActDeploy) || !v.covers(name) {
		u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s may not run runbooks in %s: that needs a deployer token that covers it", v.token.Name, name))
		return
	}
	req := engine.RunRequest{Service: r.PostFormValue("service"), Task: r.PostFormValue("task"), Env: name, Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	// A run of a pool is queued, not waited for: its agent runs it, and the page shows it.
	run, err := v.engine.RunTask(engine.WithoutWaiting(context.WithoutCancel(r.Context())), req)
	u.runFlash(v, run, err)
	http.Redirect(w, r, "/environments/"+url.PathEscape(name), http.StatusSeeOther)
}

// decideRun approves (or, with reject, rejects with the form's reason) a waiting run, as
// `strata approve t-…` does; the last approval runs it.
func (u *ui) decideRun(reject bool) func(w http.ResponseWriter, r *http.Request, v *visit) {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		ctx := r.Context()
		run, err := v.engine.Store.TaskRun(ctx, r.PathValue("id"))
		if err != nil {
			u.fail(w, r, v, err)
			return
		}
		if !v.can(strata.ActApprove) || !v.covers(run.Environment) {
			u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s may not decide runs in %s: that needs an approver token that covers it", v.token.Name, run.Environment))
			return
		}
		if reject {
			run, err = v.engine.RejectTaskRun(ctx, run.ID, strings.TrimSpace(r.PostFormValue("reason")))
		} else {
			run, err = v.engine.ApproveTaskRun(engine.WithoutWaiting(context.WithoutCancel(ctx)), run.ID)
		}
		u.runFlash(v, run, err)
		http.Redirect(w, r, "/environments/"+url.PathEscape(run.Environment), http.StatusSeeOther)
	}
}

// runFlash tells the visitor how a run went.
func (u *ui) runFlash(v *visit, run *strata.TaskRun, err error) {
	switch {
	case err == nil && run.Pool != "" && run.State == strata.RunRunning && run.Agent == "":
		v.session.setFlash("Run "+run.ID+" of "+run.Service+"/"+run.Task+": queued for an agent of pool "+run.Pool+".", false)
	case err == nil:
		v.session.setFlash("Run "+run.ID+" of "+run.Service+"/"+run.Task+": "+run.State+".", false)
	case run != nil && strata.ErrorCode(err) == strata.EBLOCKED && run.State == strata.RunWaiting:
		v.session.setFlash("Run "+run.ID+" waits for approval: "+err.Error(), false)
	default:
		v.session.setFlash("Not done: "+err.Error(), true)
	}
}
