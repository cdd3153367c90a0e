package http

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// Recall and unrecall from the dashboard (issue 13, point 3): the release page marks a
// recalled release and offers each action to the roles that may take it, as the API
// authorizes them (command.Recall, command.Unrecall). Each is one POST with the session's
// CSRF token and a reason, carried out through package report as the CLI does, so the audit
// events are theirs.

// mayRecall reports whether the visitor may recall service@version: a deployer (or admin)
// whose token reaches every environment that runs it.
func (v *visit) mayRecall(ctx context.Context, service, version string) bool {
	if !v.can(strata.ActDeploy) {
		return false
	}
	waves, err := v.engine.RecallWaves(ctx, service, version)
	if err != nil {
		return false
	}
	for _, w := range waves {
		if !v.coversAll(w) {
			return false
		}
	}
	return true
}

// mayUnrecall reports whether the visitor may lift a recall: an approver (or admin) whose
// token reaches every declared environment.
func (v *visit) mayUnrecall() bool {
	if !v.can(strata.ActApprove) {
		return false
	}
	for _, env := range v.engine.Project.Environments {
		if !env.Ephemeral && !v.covers(env.Name) {
			return false
		}
	}
	return true
}

// recallRelease recalls the release with the form's reason, and rolls back every
// environment that runs it when the form's rollback box is ticked.
func (u *ui) recallRelease(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	service, version := r.PathValue("service"), r.PathValue("version")
	back := "/releases/" + url.PathEscape(service) + "/" + url.PathEscape(version)
	if !v.mayRecall(ctx, service, version) {
		u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s may not recall %s@%s: that needs a deployer token that covers every environment that runs it", v.token.Name, service, version))
		return
	}
	req := report.RecallRequest{Service: service, Version: version, Reason: r.PostFormValue("reason"), Rollback: r.PostFormValue("rollback") == "1"}
	// The rollbacks outlive the request (a browser that leaves does not stop their waves).
	doc, err := report.RecallRelease(context.WithoutCancel(ctx), v.engine, req)
	switch code := strata.ErrorCode(err); {
	case err == nil && req.Rollback:
		v.session.setFlash(fmt.Sprintf("Recalled %s@%s and rolled back %d environment(s).", service, version, len(doc.Rollbacks)), false)
	case err == nil:
		v.session.setFlash(fmt.Sprintf("Recalled %s@%s: every promotion and deployment of it is refused.", service, version), false)
	case code == strata.EINTERNAL:
		u.log.Error("recall", "service", service, "version", version, "err", err)
		v.session.setFlash("Recalling failed: internal error; the server log has the details.", true)
	default:
		v.session.setFlash("Not recalled: "+err.Error(), true)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// unrecallRelease lifts the release's recall with the form's reason.
func (u *ui) unrecallRelease(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	service, version := r.PathValue("service"), r.PathValue("version")
	back := "/releases/" + url.PathEscape(service) + "/" + url.PathEscape(version)
	if !v.mayUnrecall() {
		u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s may not lift a recall: that needs an approver token that covers every environment", v.token.Name))
		return
	}
	_, err := report.UnrecallRelease(ctx, v.engine, report.UnrecallRequest{Service: service, Version: version, Reason: r.PostFormValue("reason")})
	switch code := strata.ErrorCode(err); {
	case err == nil:
		v.session.setFlash(fmt.Sprintf("%s@%s is no longer recalled.", service, version), false)
	case code == strata.EINTERNAL:
		u.log.Error("unrecall", "service", service, "version", version, "err", err)
		v.session.setFlash("Unrecalling failed: internal error; the server log has the details.", true)
	default:
		v.session.setFlash("Not unrecalled: "+err.Error(), true)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
