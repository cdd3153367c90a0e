package http

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// releasesView lists recent releases and the promotions still open.
type releasesView struct {
	Releases []*strata.Release
	Open     []*strata.Promotion
}

// releases lists the newest releases of every service.
func (u *ui) releases(w http.ResponseWriter, r *http.Request, v *visit) {
	rs, err := v.engine.Store.Releases(r.Context(), "")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if len(rs) > 200 {
		rs = rs[:200]
	}
	ps, err := v.engine.Store.Promotions(r.Context(), strata.PromotionFilter{States: []string{strata.Waiting, strata.Running}, Limit: 100})
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	ps = slices.DeleteFunc(ps, func(p *strata.Promotion) bool { return !v.seesStage(p.Stage) })
	u.render(w, r, v, http.StatusOK, "releases", "Releases", releasesView{Releases: rs, Open: ps})
}

// coversStage reports whether the visitor reaches every environment of a stage (needed to
// decide a promotion into it).
func (v *visit) coversStage(stage string) bool {
	st := v.engine.Project.Stage(stage)
	if st == nil {
		return len(v.token.Envs) == 0
	}
	return v.coversAll(st.Environments)
}

// coversPromotion reports whether the visitor reaches every environment promotion p may
// change: those it names (Only), else its stage's.
func (v *visit) coversPromotion(p *strata.Promotion) bool {
	if len(p.Only) > 0 {
		return v.coversAll(p.Only)
	}
	return v.coversStage(p.Stage)
}

// seesStage reports whether the visitor reaches some environment of a stage (enough to
// read about a promotion into it).
func (v *visit) seesStage(stage string) bool {
	st := v.engine.Project.Stage(stage)
	if st == nil || len(v.token.Envs) == 0 {
		return len(v.token.Envs) == 0
	}
	return slices.ContainsFunc(st.Environments, v.covers)
}

// releaseView is a release page: where the release runs, and each of its promotions.
type releaseView struct {
	Release    *strata.Release
	Runs       []runRow
	Promotions []promotionView
	CSRF       string
	// Stages are the stages the visitor may promote the release into (ui_actions.go).
	Stages []string
}

// runRow is one environment where the release runs or ran last.
type runRow struct {
	Env          string
	State        string
	Health       string
	DeploymentID string
	FinishedAt   time.Time
}

// promotionView is one promotion of a release, its gates judged now when it waits, the
// deployments it ran, and whether the visitor may decide it (and why not).
type promotionView struct {
	P           *strata.Promotion
	Gates       []plan.Gate
	Deployments []*strata.Deployment
	CanDecide   bool
	WhyNot      string
}

// release shows one release: where it runs, its promotions, each gate with what would
// open it, and approve and reject buttons for those allowed.
func (u *ui) release(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	service, version := r.PathValue("service"), r.PathValue("version")
	rel, err := v.engine.Store.Release(ctx, service, version)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	view := releaseView{Release: rel, CSRF: v.session.csrf, Stages: v.promotableStages()}
	// The newest deployment of the service in each environment, one row each however long
	// the history: where it is of this version, the release runs or ran last there.
	ds, err := v.engine.Store.Deployments(ctx, strata.DeploymentFilter{Service: service, Latest: true})
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	for _, d := range ds {
		// A short-lived environment made again since does not run what ran in the earlier one.
		if d.Version == version && v.covers(d.Environment) && !v.engine.Project.Environment(d.Environment).Predates(d) {
			view.Runs = append(view.Runs, runRow{Env: d.Environment, State: d.State, Health: d.Health, DeploymentID: d.ID, FinishedAt: d.FinishedAt})
		}
	}
	failuresFirst(view.Runs)
	ps, err := v.engine.Store.Promotions(ctx, strata.PromotionFilter{Service: service, Version: version})
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	var facts *plan.Facts // what the gates of a promotion of this release read, read once
	for _, p := range ps {
		if !v.seesStage(p.Stage) {
			continue
		}
		pv := promotionView{P: p}
		if p.State == strata.Waiting {
			f := facts
			if f == nil || len(p.Members) > 0 {
				// A train's gates read every member's facts, not only this release's.
				got, err := v.engine.PromotionFactsOf(ctx, p)
				if err != nil {
					u.fail(w, r, v, err)
					return
				}
				if f = &got; len(p.Members) == 0 {
					facts = f
				}
			}
			if st, err := v.engine.StageOf(p); err == nil {
				req := v.engine.PromotionRequest(p, st)
				req.OverrideBy = p.Requester
				pv.Gates = plan.Gates(v.engine.Project, req, *f)
			}
			pv.CanDecide, pv.WhyNot = v.mayDecide(p)
		}
		if pv.Deployments, err = v.engine.Store.Deployments(ctx, strata.DeploymentFilter{PromotionID: p.ID}); err != nil {
			u.fail(w, r, v, err)
			return
		}
		view.Promotions = append(view.Promotions, pv)
	}
	u.render(w, r, v, http.StatusOK, "release", service+"@"+version, view)
}

// mayDecide says whether the visitor may approve or reject a waiting promotion, and when
// not, why (so the page can say so instead of offering a button that fails).
func (v *visit) mayDecide(p *strata.Promotion) (bool, string) {
	switch {
	case !v.can(strata.ActApprove):
		return false, fmt.Sprintf("your role (%s) cannot approve; an approver or admin can", v.token.Role)
	case !v.coversPromotion(p):
		return false, "your token does not reach every environment of stage " + p.Stage + " this promotion changes"
	case p.Requester == v.token.Name:
		return false, "you requested this promotion; approvals come from someone else"
	case slices.ContainsFunc(p.Approvals, func(a strata.Approval) bool { return a.Principal == v.token.Name }):
		return false, "you approved it already"
	}
	return true, ""
}

// promotion sends a promotion's address to its place on its release's page.
func (u *ui) promotion(w http.ResponseWriter, r *http.Request, v *visit) {
	p, err := v.engine.Store.Promotion(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, promotionHref(p), http.StatusSeeOther)
}

func promotionHref(p *strata.Promotion) string {
	return "/releases/" + url.PathEscape(p.Service) + "/" + url.PathEscape(p.Version) + "#" + p.ID
}

// decidable loads a promotion the visitor may decide: an approver or admin whose token
// reaches every environment of its stage.
func (u *ui) decidable(ctx context.Context, v *visit, id string) (*strata.Promotion, error) {
	p, err := v.engine.Store.Promotion(ctx, id)
	if err != nil {
		return nil, err
	}
	if !v.can(strata.ActApprove) {
		return nil, strata.Errorf(strata.EUNAUTHORIZED, "token %s (role %s) may not approve or reject; an approver or admin can", v.token.Name, v.token.Role)
	}
	if !v.coversPromotion(p) {
		return nil, strata.Errorf(strata.EUNAUTHORIZED, "token %s does not reach every environment of stage %s this promotion changes", v.token.Name, p.Stage)
	}
	return p, nil
}

// approve records the visitor's approval. When it opens the last gate the promotion runs
// its deployments; the page does not wait for them (they outlive the request) but goes
// to the release page, where the deployments can be watched live.
func (u *ui) approve(w http.ResponseWriter, r *http.Request, v *visit) {
	p, err := u.decidable(r.Context(), v, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	done := make(chan error, 1)
	u.work.Add(1)
	go func() {
		defer u.work.Done()
		_, err := v.engine.Approve(u.bg, p.ID)
		done <- err
	}()
	timer := time.NewTimer(u.detach)
	defer timer.Stop()
	select {
	case err := <-done:
		switch strata.ErrorCode(err) {
		case "":
			v.session.setFlash(fmt.Sprintf("Approved %s; it ran.", p.ID), false)
		case strata.EBLOCKED:
			v.session.setFlash(fmt.Sprintf("Approved %s; it still waits: %s", p.ID, err.Error()), false)
		case strata.EINTERNAL:
			u.log.Error("approve", "promotion", p.ID, "err", err)
			v.session.setFlash("Approving failed: internal error; the server log has the details.", true)
		default:
			v.session.setFlash("Not approved: "+err.Error(), true)
		}
	case <-timer.C:
		v.session.setFlash(fmt.Sprintf("Approved %s; its deployments are running.", p.ID), false)
		go func() {
			if err := <-done; err != nil {
				u.log.Warn("approved promotion ended with an error", "promotion", p.ID, "principal", v.token.Name, "err", err)
			}
		}()
	}
	http.Redirect(w, r, promotionHref(p), http.StatusSeeOther)
}

// reject closes a waiting promotion with the reason the form gives.
func (u *ui) reject(w http.ResponseWriter, r *http.Request, v *visit) {
	p, err := u.decidable(r.Context(), v, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if _, err := v.engine.Reject(r.Context(), p.ID, r.PostFormValue("reason")); err != nil {
		if code := strata.ErrorCode(err); code == strata.EINVALID || code == strata.ECONFLICT {
			v.session.setFlash("Not rejected: "+err.Error(), true)
			http.Redirect(w, r, promotionHref(p), http.StatusSeeOther)
			return
		}
		u.fail(w, r, v, err)
		return
	}
	v.session.setFlash(fmt.Sprintf("Rejected %s.", p.ID), false)
	http.Redirect(w, r, promotionHref(p), http.StatusSeeOther)
}
