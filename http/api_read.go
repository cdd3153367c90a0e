package http

import (
	"slices"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
)

// The read routes. Their documents are package report's, as `strata -o json` prints them; a
// token scoped to some environments sees only those (lists are filtered, a named one it
// does not cover is 403).

// unknownEnv is the error for an environment the project does not have.
func unknownEnv(p *strata.Project, name string) error {
	if name == "" {
		return strata.Errorf(strata.EINVALID, "an environment is required; environments: %s", report.KnownList(p.EnvironmentNames()))
	}
	return report.Unknown("environment", name, p.EnvironmentNames())
}

func (s *Server) healthz(c *call) (any, error) {
	if _, err := s.store.Freezes(c.r.Context()); err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "project": c.p.Name, "schema": strata.SchemaVersion}, nil
}

func (s *Server) environments(c *call) (any, error) {
	docs := report.NewEnvironments(c.p)
	return slices.DeleteFunc(docs, func(d report.Environment) bool { return !c.covered(d.Name) }), nil
}

func (s *Server) config(c *call) (any, error) {
	env := c.q("env")
	if err := c.allow(strata.ActRead, env); err != nil {
		return nil, err
	}
	explain, err := c.flag("explain")
	if err != nil {
		return nil, err
	}
	return report.NewConfig(c.p, c.r.PathValue("service"), env, explain)
}

func (s *Server) diff(c *call) (any, error) {
	a, b := c.q("a"), c.q("b")
	if err := c.allow(strata.ActRead, a, b); err != nil {
		return nil, err
	}
	return report.NewDiff(c.p, a, b, func() (map[plan.Pair]*strata.Deployment, error) { return c.eng.Current(c.r.Context()) })
}

// status is the environment x service matrix of the environments the token covers.
func (s *Server) status(c *call) (any, error) {
	doc, err := report.NewStatus(c.r.Context(), c.eng)
	if err != nil {
		return nil, err
	}
	doc.Cells = slices.DeleteFunc(doc.Cells, func(x report.Cell) bool { return !c.covered(x.Environment) })
	return doc, nil
}

// history lists deployments, newest first, of the environments the token covers.
func (s *Server) history(c *call) (any, error) {
	limit, err := c.intParam("limit")
	if err != nil {
		return nil, err
	}
	q := report.HistoryQuery{Service: c.q("service"), Environment: c.q("env")}
	if q.Environment != "" {
		if err := c.allow(strata.ActRead, q.Environment); err != nil {
			return nil, err
		}
	}
	if coversAll(c.tok) {
		q.Limit = int(limit)
	}
	ds, err := report.NewHistory(c.r.Context(), c.eng, q)
	if err != nil {
		return nil, err
	}
	ds = slices.DeleteFunc(ds, func(d report.Deployment) bool { return !c.covered(d.Environment) })
	if limit > 0 && len(ds) > int(limit) {
		ds = ds[:limit]
	}
	return ds, nil
}

// readDeployment returns a deployment the token may read.
func (c *call) readDeployment() (*strata.Deployment, error) {
	d, err := c.s.store.Deployment(c.r.Context(), c.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if err := c.allow(strata.ActRead, d.Environment); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Server) deployment(c *call) (any, error) {
	d, err := c.readDeployment()
	if err != nil {
		return nil, err
	}
	report.MarkInterrupted(c.r.Context(), c.eng, []*strata.Deployment{d})
	return report.NewDeployment(d), nil
}

// promotions lists promotions, newest first; a scoped token sees those whose stage has an
// environment it covers.
func (s *Server) promotions(c *call) (any, error) {
	f := strata.PromotionFilter{Service: c.q("service")}
	if st := c.q("state"); st != "" {
		f.States = strings.Split(st, ",")
	}
	ps, err := s.store.Promotions(c.r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := []*strata.Promotion{}
	for _, p := range ps {
		if c.coversAny(p.Stage) {
			out = append(out, p)
		}
	}
	return out, nil
}

// coversAny reports whether the token covers some environment of the stage (an unscoped
// token covers every stage, even one gone from strata.yaml).
func (c *call) coversAny(stage string) bool {
	if coversAll(c.tok) {
		return true
	}
	return slices.ContainsFunc(c.stageEnvs(stage), c.covered)
}

// promotion returns one promotion judged now: its gates and what would open them.
func (s *Server) promotion(c *call) (any, error) {
	p, err := s.store.Promotion(c.r.Context(), c.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if !c.coversAny(p.Stage) {
		return nil, deny("%s's token covers no environment of stage %s", c.tok.Name, p.Stage)
	}
	res, err := s.judge(c, p)
	if err != nil {
		return nil, err
	}
	return report.NewPromotion(res), nil
}

// judge returns p with its gates as they stand now and the deployments it ran, changing
// nothing (engine.Advance would run it when they hold).
func (s *Server) judge(c *call, p *strata.Promotion) (*engine.PromotionResult, error) {
	ctx := c.r.Context()
	res := &engine.PromotionResult{Promotion: p, Gates: []plan.Gate{}, Waves: [][]string{}}
	ds, err := s.store.Deployments(ctx, strata.DeploymentFilter{PromotionID: p.ID})
	if err != nil {
		return nil, err
	}
	slices.Reverse(ds) // oldest first, as they ran
	res.Deployments = ds
	st := c.p.Stage(p.Stage)
	if st == nil {
		return res, nil
	}
	res.Waves = plan.Waves(st)
	if p.State != strata.Waiting {
		return res, nil
	}
	f, err := c.eng.PromotionFacts(ctx, p.Service, p.Version)
	if err != nil {
		return nil, err
	}
	res.Gates = plan.Gates(c.p, plan.Request{
		ID: p.ID, Service: p.Service, Version: p.Version, Stage: st, Requester: p.Requester,
		Approvals: p.Approvals, Override: p.Override, OverrideBy: p.Requester, Reason: p.Reason,
	}, f)
	return res, nil
}

// audit returns the audit log, or with verify=1 (admin) its verification. A scoped token
// sees the events of the environments it covers, the promotion-level events of the stages
// that hold one, and the events of no environment and no stage.
func (s *Server) audit(c *call) (any, error) {
	verify, err := c.flag("verify")
	if err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	if verify {
		if err := c.allow(strata.ActAdmin); err != nil {
			return nil, err
		}
		return report.VerifyStore(ctx, s.store)
	}
	limit, err := c.intParam("limit")
	if err != nil {
		return nil, err
	}
	f := strata.EventFilter{Service: c.q("service"), Environment: c.q("env"), Actor: c.q("actor"), Action: c.q("action")}
	if f.Environment != "" {
		if err := c.allow(strata.ActRead, f.Environment); err != nil {
			return nil, err
		}
	}
	if coversAll(c.tok) {
		f.Limit = int(limit)
	}
	events, err := report.Audit(ctx, s.store, c.eng.Project, f)
	if err != nil {
		return nil, err
	}
	events = slices.DeleteFunc(events, func(e *strata.Event) bool { return !seesEvent(c.tok, c.p, e) })
	if limit > 0 && len(events) > int(limit) {
		events = events[len(events)-int(limit):]
	}
	return events, nil
}

// drift reports config and version drift in the environments the token covers.
func (s *Server) drift(c *call) (any, error) {
	env := c.q("env")
	if env != "" {
		if err := c.allow(strata.ActRead, env); err != nil {
			return nil, err
		}
	}
	doc, err := report.NewDrift(c.r.Context(), c.eng, env)
	if doc == nil || coversAll(c.tok) {
		return doc, err
	}
	doc.Drift = slices.DeleteFunc(doc.Drift, func(it engine.DriftItem) bool { return !c.covered(it.Environment) })
	if len(doc.Drift) == 0 {
		return doc, nil
	}
	return doc, strata.Errorf(strata.EFAILED, "drift found: %d item(s)", len(doc.Drift))
}
