package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/report"
)

// Every environment and every service is a page (issue 14, point 3).

// envView is /environments/NAME.
type envView struct {
	Env     *strata.Environment
	Chain   []string // the extends chain, the environment first
	Policy  string
	Stages  []string
	Labels  string
	Runs    []envRun
	Config  []envConfig
	Frozen  *strata.Freeze
	History []*strata.Deployment
	// CanFreeze is set for an admin whose token covers the environment.
	CanFreeze bool
	CSRF      string
	// Runbooks are the services' runbooks, TaskRuns the newest runs here (ui_runbooks.go);
	// CanRun and CanDecide say whether the visitor may run them and approve or reject.
	Runbooks  []runbookRow
	TaskRuns  []*strata.TaskRun
	CanRun    bool
	CanDecide bool
	// CanRollback is set for a deployer whose token covers the environment (ui_actions.go).
	CanRollback bool
	Principal   string
	// Group is the environment's group, nil when it is in none (ui_switch.go).
	Group *envGroup
}

// envRun is what runs of one service in the environment.
type envRun struct {
	Service, Version, State, Health, Age, DeploymentID string
}

// envConfig is one service's resolved config in the environment: each value with the
// file:line:col it comes from; a secret shows its name, never its value.
type envConfig struct {
	Service string
	Error   string
	Rows    []configRow
}

type configRow struct {
	Key, Value, Source string
	Secret             bool
}

// environment shows one environment: labels, the extends chain, policy, stages, what runs,
// config with provenance, secret names, whether it is frozen, and its newest deployments.
func (u *ui) environment(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	p := v.engine.Project
	name := r.PathValue("name")
	env := p.Environment(name)
	if env == nil {
		u.fail(w, r, v, strata.Errorf(strata.ENOTFOUND, "no environment %q in the project", name))
		return
	}
	if !v.covers(name) {
		u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s does not reach environment %s", v.token.Name, name))
		return
	}
	view := envView{Env: env, Labels: labelText(env.Labels), CSRF: v.session.csrf, CanFreeze: v.can(strata.ActAdmin),
		CanRollback: v.can(strata.ActDeploy) && v.covers(name)}
	var err error
	if view.Group, err = v.groupOf(ctx, name); err != nil {
		u.fail(w, r, v, err)
		return
	}
	for e := env; e != nil && len(view.Chain) < 64; e = p.Environment(e.Extends) {
		view.Chain = append(view.Chain, e.Name)
		if e.Extends == "" {
			break
		}
	}
	if b, err := json.Marshal(env.Policy); err == nil && string(b) != "{}" {
		view.Policy = string(b)
	}
	for _, st := range p.Pipeline {
		if slices.Contains(st.Environments, name) {
			view.Stages = append(view.Stages, st.Name)
		}
	}
	snap, err := u.snaps.get(ctx, v.engine.Store)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	gone := report.Gone(ctx, v.engine)
	now := u.now()
	for _, s := range p.Services {
		run := envRun{Service: s.Name, State: cellState(env, s.Name, snap, gone)}
		k := pairKey{Service: s.Name, Environment: name}
		cur, latest := snap.of(env, s.Name)
		if cur != nil {
			run.Version, run.Health, run.Age = cur.Version, cur.healthNow(snap.health[k]), age(now, cur.finished())
		}
		if latest != nil {
			run.DeploymentID = latest.ID
		}
		view.Runs = append(view.Runs, run)

		c := envConfig{Service: s.Name}
		res, err := layer.Resolve(p, s.Name, name, nil)
		if err != nil {
			c.Error = err.Error()
		} else {
			values := res.Redacted()
			for _, key := range res.Keys {
				// Sources are shown relative to the project's directory: where the files are
				// on the server's disk is none of the page's business.
				src := strings.TrimPrefix(res.Source(key), p.Dir+string(filepath.Separator))
				row := configRow{Key: key, Source: src, Secret: res.Secret[key]}
				if !row.Secret {
					row.Value = fmt.Sprint(values[key])
				}
				c.Rows = append(c.Rows, row)
			}
		}
		view.Config = append(view.Config, c)
	}
	freezes, err := v.engine.Store.Freezes(ctx)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	for _, f := range freezes {
		if f.Environment == name {
			view.Frozen = f
		}
	}
	if view.History, err = v.engine.Store.Deployments(ctx, strata.DeploymentFilter{Environment: name, Limit: 20}); err != nil {
		u.fail(w, r, v, err)
		return
	}
	if err := u.envRunbooks(ctx, v, &view); err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.render(w, r, v, http.StatusOK, "environment", name, view)
}

// freezeEnv closes the environment to deployments with the form's reason, as `strata
// freeze` does (the same audit event); unfreezeEnv reopens it.
func (u *ui) freezeEnv(w http.ResponseWriter, r *http.Request, v *visit) { u.setFrozen(w, r, v, true) }

func (u *ui) unfreezeEnv(w http.ResponseWriter, r *http.Request, v *visit) {
	u.setFrozen(w, r, v, false)
}

func (u *ui) setFrozen(w http.ResponseWriter, r *http.Request, v *visit, freeze bool) {
	name := r.PathValue("name")
	if v.engine.Project.Environment(name) == nil {
		u.fail(w, r, v, strata.Errorf(strata.ENOTFOUND, "no environment %q in the project", name))
		return
	}
	if !v.can(strata.ActAdmin) || !v.covers(name) {
		u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s may not freeze or unfreeze %s: that needs an admin token that covers it", v.token.Name, name))
		return
	}
	var err error
	if freeze {
		_, err = report.Freeze(r.Context(), v.engine, name, strings.TrimSpace(r.PostFormValue("reason")))
	} else {
		_, err = report.Unfreeze(r.Context(), v.engine, name)
	}
	switch code := strata.ErrorCode(err); {
	case err == nil && freeze:
		v.session.setFlash("Froze "+name+".", false)
	case err == nil:
		v.session.setFlash("Unfroze "+name+".", false)
	case code == strata.EINVALID || code == strata.ECONFLICT || code == strata.ENOTFOUND:
		v.session.setFlash("Not done: "+err.Error(), true)
	default:
		u.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/environments/"+url.PathEscape(name), http.StatusSeeOther)
}

// serviceView is /services/NAME.
type serviceView struct {
	Service  *strata.Service
	Releases []serviceRelease
}

// serviceRelease is one release and the environments (the visitor covers) it runs in.
type serviceRelease struct {
	R    *strata.Release
	Envs []string
	More int
}

// service shows a service's releases, newest first, and where each runs now.
func (u *ui) service(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	p := v.engine.Project
	name := r.PathValue("name")
	svc := p.Service(name)
	if svc == nil {
		u.fail(w, r, v, strata.Errorf(strata.ENOTFOUND, "no service %q in the project", name))
		return
	}
	rs, err := v.engine.Store.Releases(ctx, name)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	snap, err := u.snaps.get(ctx, v.engine.Store)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	where := map[string][]string{}
	for _, env := range p.Environments {
		if !v.covers(env.Name) {
			continue
		}
		if d, _ := snap.of(env, name); d != nil {
			where[d.Version] = append(where[d.Version], env.Name)
		}
	}
	view := serviceView{Service: svc}
	for _, rel := range rs {
		sr := serviceRelease{R: rel, Envs: where[rel.Version]}
		if len(sr.Envs) > 50 {
			sr.More, sr.Envs = len(sr.Envs)-50, sr.Envs[:50]
		}
		view.Releases = append(view.Releases, sr)
	}
	slices.SortStableFunc(view.Releases, func(a, b serviceRelease) int { return b.R.CreatedAt.Compare(a.R.CreatedAt) })
	u.render(w, r, v, http.StatusOK, "service", name, view)
}
