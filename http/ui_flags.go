package http

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/flag"
	"github.com/strata-dev/strata/report"
)

// flagsView is an environment's flags page: each flag's value for a client that sends no
// attributes, where it came from, who changed it, and a kill switch for visitors who may
// deploy there.
type flagsView struct {
	Envs    []string
	Env     string
	Flags   []flagRow
	CanKill bool
	CSRF    string
}

// flagRow is one flag on the page, its value written as JSON.
type flagRow struct {
	report.FlagEntry
	Shown string
}

// flags shows the flags of ?env= (the first environment the visitor reaches by default).
func (u *ui) flags(w http.ResponseWriter, r *http.Request, v *visit) {
	view := flagsView{Env: r.URL.Query().Get("env"), CSRF: v.session.csrf}
	for _, e := range v.engine.Project.Environments {
		if v.covers(e.Name) {
			view.Envs = append(view.Envs, e.Name)
		}
	}
	if view.Env == "" && len(view.Envs) > 0 {
		view.Env = view.Envs[0]
	}
	if view.Env != "" {
		if v.engine.Project.Environment(view.Env) != nil && !v.covers(view.Env) {
			u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s does not reach environment %s", v.token.Name, view.Env))
			return
		}
		flags, err := report.FlagList(r.Context(), v.engine, view.Env)
		if err != nil {
			u.fail(w, r, v, err)
			return
		}
		for _, f := range flags {
			view.Flags = append(view.Flags, flagRow{FlagEntry: f, Shown: flag.Show(f.Value)})
		}
		view.CanKill = v.can(strata.ActDeploy)
	}
	u.render(w, r, v, http.StatusOK, "flags", "Flags in "+view.Env, view)
}

// flagSwitch kills (with the form's reason) or unkills a flag in the form's env, as `strata
// flag kill/unkill` do, and goes back to the environment's flags page with what happened.
func (u *ui) flagSwitch(kill bool) func(w http.ResponseWriter, r *http.Request, v *visit) {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		env, key := r.PostFormValue("env"), r.PathValue("key")
		if v.engine.Project.Environment(env) == nil {
			u.fail(w, r, v, report.Unknown("environment", env, v.engine.Project.EnvironmentNames()))
			return
		}
		if !v.can(strata.ActDeploy) || !v.covers(env) {
			u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "%s may not change flags in %s: that needs the deploy permission there", v.token.Name, env))
			return
		}
		req := report.FlagKillRequest{Key: key, Env: env, Reason: r.PostFormValue("reason")}
		var err error
		if kill {
			_, err = report.FlagKill(r.Context(), v.engine, req)
		} else {
			_, err = report.FlagUnkill(r.Context(), v.engine, req)
		}
		switch code := strata.ErrorCode(err); {
		case err == nil && kill:
			v.session.setFlash(fmt.Sprintf("Killed %s in %s: it gives its default until unkilled.", key, env), false)
		case err == nil:
			v.session.setFlash(fmt.Sprintf("Unkilled %s in %s.", key, env), false)
		case code == strata.EINVALID || code == strata.EBLOCKED || code == strata.ENOTFOUND:
			v.session.setFlash("Not changed: "+err.Error(), true)
		default:
			u.fail(w, r, v, err)
			return
		}
		http.Redirect(w, r, "/flags?env="+url.QueryEscape(env), http.StatusSeeOther)
	}
}
