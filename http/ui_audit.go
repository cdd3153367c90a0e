package http

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
)

// auditView is the audit log page: the events a filter selects and, for admins, whether
// the whole hash chain verifies.
type auditView struct {
	Events []*strata.Event
	Filter strata.EventFilter
	// Chain is the hash chain's verification; nil unless the visitor is an admin.
	Chain  *report.Verification
	Scoped bool
}

// audit shows the newest events (?service=, ?env=, ?actor=, ?action=, ?limit=). A token
// scoped to some environments sees what seesEvent lets it, as in the API.
func (u *ui) audit(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	f := strata.EventFilter{Service: q.Get("service"), Environment: q.Get("env"), Actor: q.Get("actor"), Action: q.Get("action"), Limit: 200}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= 5000 {
		f.Limit = n
	}
	view := auditView{Filter: f, Scoped: len(v.token.Envs) > 0}
	var sees func(*strata.Event) bool
	if view.Scoped {
		// Filtered as the log is read, so a scoped page holds its limit of events it may see.
		sees = func(e *strata.Event) bool { return seesEvent(v.token, v.engine.Project, e) }
	}
	events, err := report.Audit(r.Context(), v.engine.Store, v.engine.Project, f, sees)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	slices.Reverse(events) // newest first on the page
	view.Events = events
	if v.can(strata.ActAdmin) {
		// Streamed, as audit --verify is: the page holds one event of the log at a time,
		// not the log. A broken chain is shown, not an error of the page.
		chain, err := report.VerifyStore(r.Context(), v.engine.Store)
		if err != nil && strata.ErrorCode(err) != strata.EFAILED {
			u.fail(w, r, v, err)
			return
		}
		view.Chain = chain
	}
	u.render(w, r, v, http.StatusOK, "audit", "Audit log", view)
}

// diffView is the diff page: two environments and what differs between them (secret
// values are never compared: they are not known at config time).
type diffView struct {
	Envs []string
	A, B string
	Diff *report.Diff
}

// diff compares any two environments the visitor reaches (?a=&b=): the version each
// service runs and its resolved config, as `strata diff` does.
func (u *ui) diff(w http.ResponseWriter, r *http.Request, v *visit) {
	p := v.engine.Project
	view := diffView{A: r.URL.Query().Get("a"), B: r.URL.Query().Get("b")}
	for _, e := range p.Environments {
		if v.covers(e.Name) {
			view.Envs = append(view.Envs, e.Name)
		}
	}
	if view.A == "" || view.B == "" {
		u.render(w, r, v, http.StatusOK, "diff", "Diff", view)
		return
	}
	for _, name := range []string{view.A, view.B} {
		if p.Environment(name) != nil && !v.covers(name) {
			u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s does not reach environment %s", v.token.Name, name))
			return
		}
	}
	d, err := report.NewDiff(p, view.A, view.B, func() (map[plan.Pair]*strata.Deployment, error) { return v.engine.Current(r.Context()) })
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	view.Diff = d
	u.render(w, r, v, http.StatusOK, "diff", "Diff "+view.A+" "+view.B, view)
}
