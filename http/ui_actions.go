package http

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// Promote and rollback from the dashboard (issue 14, point 4). Each is two POSTs with the
// session's CSRF token: the first shows what would happen (the plan of `strata plan`, or
// the version a rollback goes back to) and changes nothing; the second, with confirm=1,
// does it through package report, as the CLI and the API do, so the audit events are theirs.

// confirmView is the confirmation page of a promotion or a rollback.
type confirmView struct {
	Title  string
	Action string      // where the confirming form posts
	Fields [][2]string // the hidden fields it carries again (name, value)
	Plan   *report.Promotion
	// Rollback: the service, the environment, the version running and the one it goes to.
	Service, Env, From, To string
	// AskReason asks why (a rollback); OfferOverride offers an admin to override the
	// stage's closed deploy window, with a reason (`strata promote --override-window`).
	AskReason, OfferOverride bool
	CSRF                     string
	Back                     string
}

// promotableStages are the pipeline's stages the visitor may promote into: a deployer (or
// admin) whose token reaches every environment of the stage, as `strata promote` asks.
func (v *visit) promotableStages() []string {
	if !v.can(strata.ActDeploy) {
		return nil
	}
	var out []string
	for _, st := range v.engine.Project.Pipeline {
		if v.coversAll(st.Environments) {
			out = append(out, st.Name)
		}
	}
	return out
}

// promoteRelease shows the plan of promoting the release to the form's stage and, once
// confirmed, promotes it; a promotion that waits on a gate is said so on the release page.
func (u *ui) promoteRelease(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	service, version, stage := r.PathValue("service"), r.PathValue("version"), r.PostFormValue("stage")
	rel, err := v.engine.Store.Release(ctx, service, version)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	back := "/releases/" + url.PathEscape(rel.Service) + "/" + url.PathEscape(rel.Version)
	if v.engine.Project.Stage(stage) == nil {
		u.fail(w, r, v, strata.Errorf(strata.EINVALID, "form field stage: no stage %q in the pipeline; want one of the pipeline's stages", stage))
		return
	}
	if !slices.Contains(v.promotableStages(), stage) {
		u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s may not promote to stage %s: that needs a deployer token that covers all its environments", v.token.Name, stage))
		return
	}
	req := report.PromoteRequest{Service: service, Version: version, To: stage,
		OverrideWindow: r.PostFormValue("override_window") == "1", Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	if req.OverrideWindow && !v.can(strata.ActAdmin) {
		u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s may not override a deploy window: that needs an admin token", v.token.Name))
		return
	}
	if r.PostFormValue("confirm") != "1" {
		pl, err := report.Plan(ctx, v.engine, req.Engine())
		if err != nil {
			if code := strata.ErrorCode(err); code == strata.EINVALID || code == strata.ECONFLICT {
				v.session.setFlash("Cannot promote: "+err.Error(), true)
				http.Redirect(w, r, back, http.StatusSeeOther)
				return
			}
			u.fail(w, r, v, err)
			return
		}
		u.render(w, r, v, http.StatusOK, "confirm", "Promote "+service+"@"+version, confirmView{
			Title: fmt.Sprintf("Promote %s@%s to %s?", service, version, stage), Action: back + "/promote",
			Fields: [][2]string{{"stage", stage}}, Plan: pl, CSRF: v.session.csrf, Back: back,
			OfferOverride: v.can(strata.ActAdmin) && windowClosed(pl),
		})
		return
	}
	if req.OverrideWindow && req.Reason == "" {
		v.session.setFlash("Not promoted: overriding the deploy window needs a reason, which the audit log keeps.", true)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	// The promotion outlives the request (a browser that leaves does not stop its waves).
	res, err := report.Promote(context.WithoutCancel(ctx), v.engine, req)
	switch code := strata.ErrorCode(err); {
	case err == nil:
		v.session.setFlash(fmt.Sprintf("Promoted %s@%s to %s (%s): %s.", service, version, stage, res.ID, res.State), false)
	case code == strata.EBLOCKED && res != nil:
		v.session.setFlash(fmt.Sprintf("Promotion %s to %s waits: %s", res.ID, stage, err.Error()), false)
	case code == strata.EINTERNAL:
		u.log.Error("promote", "service", service, "version", version, "stage", stage, "err", err)
		v.session.setFlash("Promoting failed: internal error; the server log has the details.", true)
	default:
		v.session.setFlash("Not promoted: "+err.Error(), true)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// windowClosed reports whether the plan's deploy window gate is closed: what an admin may
// override.
func windowClosed(pl *report.Promotion) bool {
	for _, g := range pl.Gates {
		if g.Name == "window" && !g.OK {
			return true
		}
	}
	return false
}

// rollbackService shows which version a rollback of the form's service in the environment
// would go back to and asks why; once confirmed with a reason, it redeploys that version (the
// one the page showed), as `strata rollback --reason` does, the reason in its audit event.
func (u *ui) rollbackService(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	name, service := r.PathValue("name"), r.PostFormValue("service")
	back := "/environments/" + url.PathEscape(name)
	if v.engine.Project.Environment(name) == nil {
		u.fail(w, r, v, strata.Errorf(strata.ENOTFOUND, "no environment %q in the project", name))
		return
	}
	if !v.can(strata.ActDeploy) || !v.covers(name) {
		u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s may not roll back in %s: that needs a deployer token that covers it", v.token.Name, name))
		return
	}
	if v.engine.Project.Service(service) == nil {
		u.fail(w, r, v, strata.Errorf(strata.EINVALID, "form field service: no service %q in the project", service))
		return
	}
	if r.PostFormValue("confirm") != "1" {
		from, to, err := v.engine.RollbackTarget(ctx, service, name)
		if err != nil {
			v.session.setFlash("Cannot roll back: "+err.Error(), true)
			http.Redirect(w, r, back, http.StatusSeeOther)
			return
		}
		u.render(w, r, v, http.StatusOK, "confirm", "Roll back "+service+" in "+name, confirmView{
			Title: fmt.Sprintf("Roll back %s in %s?", service, name), Action: back + "/rollback",
			Fields: [][2]string{{"service", service}, {"to", to}}, Service: service, Env: name, From: from, To: to,
			AskReason: true, CSRF: v.session.csrf, Back: back,
		})
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		v.session.setFlash("Not rolled back: say why (the reason goes into the audit log).", true)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	d, err := report.Rollback(context.WithoutCancel(ctx), v.engine, report.RollbackRequest{Service: service, Env: name, To: r.PostFormValue("to"), Reason: reason})
	switch code := strata.ErrorCode(err); {
	case err == nil:
		v.session.setFlash(fmt.Sprintf("Rolled %s in %s back to %s.", service, name, d.Version), false)
	case code == strata.EINTERNAL:
		u.log.Error("rollback", "service", service, "env", name, "err", err)
		v.session.setFlash("Rolling back failed: internal error; the server log has the details.", true)
	default:
		v.session.setFlash("Not rolled back: "+strings.TrimSpace(err.Error()), true)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
