package http

import (
	"net/http"

	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

// agentsView is the agents page: the pools of the visitor's environments with their
// figures, and the agents that registered, as `strata agent list` shows them.
type agentsView struct {
	Pools  []report.Pool
	Agents []agentRow
	Scoped bool
}

// agentRow is an agent with whether it counts as connected (seen within engine.AgentGone).
type agentRow struct {
	report.Agent
	Connected bool
}

// agents shows the pools and the agents of the environments the visitor's token reaches:
// name, pool, version, connected since, last seen and the deployments each runs now.
func (u *ui) agents(w http.ResponseWriter, r *http.Request, v *visit) {
	var covers func(string) bool
	if len(v.token.Envs) > 0 {
		covers = v.covers
	}
	now := u.now()
	as, pools, err := report.ListAgents(r.Context(), v.engine.Store, v.engine.Project, now, covers)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	view := agentsView{Pools: pools, Scoped: covers != nil}
	for _, a := range as {
		view.Agents = append(view.Agents, agentRow{Agent: a, Connected: now.Sub(a.LastSeen) < engine.AgentGone})
	}
	u.render(w, r, v, http.StatusOK, "agents", "Agents", view)
}
