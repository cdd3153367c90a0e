package http

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

// Groups on the dashboard (issue 13, point 1): the matrix and the environment page mark a
// group's live member, and the environment page of a standby offers the switch (a deployer
// covering every member) and the failover (an admin or approver) to it. Each is two POSTs
// with the session's CSRF token, as promote and rollback are (ui_actions.go): the first
// shows the gates of `strata plan --switch` and changes nothing; the second, with
// confirm=1, switches through the engine, as the CLI and the API do.

// groupMark is the badge after an environment's name in the matrix: its role in its group.

// uiAgentWait bounds how long the page that asks to confirm a switch waits for an agent to
// check the health of a member with runs_on: a page should come back in seconds, and a check
// no agent ran in time shows as the health gate's "could not run", which the page names.
const uiAgentWait = 10 * time.Second

func groupMark(p *strata.Project, live map[string]string, env string) template.HTML {
	g := p.GroupOf(env)
	if g == nil {
		return ""
	}
	role, class := strata.RoleStandby, "muted"
	if live[g.Name] == env {
		role, class = strata.RoleLive, "live"
	}
	return template.HTML(fmt.Sprintf(` <span class="%s" data-group="%s" data-role="%s" title="group %s">%s</span>`,
		class, html.EscapeString(g.Name), role, html.EscapeString(g.Name), role))
}

// envGroup is what the environment page says of the environment's group.
type envGroup struct {
	Name, Live string
	IsLive     bool
	// CanSwitch: the visitor may switch the group here (deployer, every member covered);
	// CanFailover: may fail over here (admin or approver, every member covered).
	CanSwitch, CanFailover bool
}

// groupOf returns the environment page's group section, nil when env is in no group.
func (v *visit) groupOf(ctx context.Context, env string) (*envGroup, error) {
	g := v.engine.Project.GroupOf(env)
	if g == nil {
		return nil, nil
	}
	live, err := v.engine.Live(ctx)
	if err != nil {
		return nil, err
	}
	out := &envGroup{Name: g.Name, Live: live[g.Name], IsLive: live[g.Name] == env}
	if !out.IsLive && v.coversAll(g.Environments) {
		out.CanSwitch = v.can(strata.ActDeploy)
		out.CanFailover = v.can(strata.ActApprove)
	}
	return out, nil
}

// switchView is the confirmation page of a switch or failover.
type switchView struct {
	Title  string
	Action string
	Fields [][2]string
	Switch *report.Switch
	CSRF   string
	Back   string
}

// switchGroup shows the gates of moving the group's traffic to the form's environment and,
// once confirmed, switches (kind=switch) or fails over (kind=failover, with a reason).
func (u *ui) switchGroup(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	group, to, kind, reason := r.PathValue("group"), r.PostFormValue("to"), r.PostFormValue("kind"), strings.TrimSpace(r.PostFormValue("reason"))
	g := v.engine.Project.Group(group)
	if g == nil {
		u.fail(w, r, v, strata.Errorf(strata.ENOTFOUND, "no group %q in the project", group))
		return
	}
	if !g.Has(to) {
		u.fail(w, r, v, strata.Errorf(strata.EINVALID, "form field to: %q is not a member of group %s; want one of %s", to, group, strings.Join(g.Environments, ", ")))
		return
	}
	back := "/environments/" + url.PathEscape(to)
	failover := kind == strata.KindFailover
	if kind != strata.KindSwitch && !failover {
		u.fail(w, r, v, strata.Errorf(strata.EINVALID, "form field kind: %q; want switch or failover", kind))
		return
	}
	eg, err := v.groupOf(ctx, to)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if (failover && !eg.CanFailover) || (!failover && !eg.CanSwitch) {
		need := "a deployer token"
		if failover {
			need = "an admin or approver token"
		}
		u.fail(w, r, v, strata.Errorf(strata.EUNAUTHORIZED, "token %s may not %s group %s to %s: that needs %s that covers every member", v.token.Name, kind, group, to, need))
		return
	}
	req := engine.SwitchRequest{Group: group, To: to, Reason: reason, Failover: failover}
	verb := map[bool]string{false: "Switch", true: "Fail over"}[failover]
	if r.PostFormValue("confirm") != "1" {
		res, err := v.engine.PlanSwitch(engine.WithAgentWait(ctx, uiAgentWait), req)
		if err != nil {
			v.session.setFlash("Cannot "+strings.ToLower(verb)+": "+err.Error(), true)
			http.Redirect(w, r, back, http.StatusSeeOther)
			return
		}
		u.render(w, r, v, http.StatusOK, "switch", verb+" "+group, switchView{
			Title: fmt.Sprintf("%s %s from %s to %s?", verb, group, res.Switch.From, to), Action: "/groups/" + url.PathEscape(group) + "/switch",
			Fields: [][2]string{{"to", to}, {"kind", kind}, {"reason", reason}}, Switch: report.NewSwitch(res), CSRF: v.session.csrf, Back: back,
		})
		return
	}
	// The switch outlives the request: a browser that leaves does not stop its step.
	res, err := v.engine.Switch(context.WithoutCancel(ctx), req)
	switch code := strata.ErrorCode(err); {
	case err == nil && res.Unchanged:
		v.session.setFlash(fmt.Sprintf("%s is live in %s already.", to, group), false)
	case err == nil:
		v.session.setFlash(fmt.Sprintf("%s: %s is live (%s).", group, to, res.Switch.ID), false)
	case code == strata.EINTERNAL:
		u.log.Error("switch", "group", group, "to", to, "err", err)
		v.session.setFlash("The switch failed: internal error; the server log has the details.", true)
	default:
		v.session.setFlash("Not switched: "+err.Error(), true)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
