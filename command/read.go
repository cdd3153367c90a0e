package command

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
)

// The commands that read. Their documents are package report's; a principal who covers
// only some environments sees only those (lists are filtered, a named one it does not
// cover is refused).

// onEngine runs op on the site's engine.
func onEngine[Doc any](ctx context.Context, x Site, op func(e *engine.Engine) (Doc, error)) (Doc, error) {
	e, err := x.Engine(ctx)
	if err != nil {
		var none Doc
		return none, err
	}
	return op(e)
}

// allowIfNamed checks action on env when the request names one.
func allowIfNamed(ctx context.Context, x Site, action, env string) error {
	if env == "" {
		return nil
	}
	return x.Allow(ctx, action, env)
}

// validate checks everything and summarizes the project.
func validate(ctx context.Context, x Site, _ None) (*report.Validation, error) {
	p, problems, err := x.Check(ctx)
	if err != nil {
		return nil, err
	}
	doc := report.NewValidation(p, problems)
	if x.CoversAll() {
		return doc, nil
	}
	// A scoped principal sees the environments it covers, and the stages that hold any of
	// them with only those; the document's scope names its selectors.
	doc.Scope = x.Scope()
	keep := func(names []string) []string {
		return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !x.Covers(n) })
	}
	doc.Environments = keep(doc.Environments)
	stages := []report.Stage{}
	for _, st := range doc.Stages {
		if st.Environments = keep(st.Environments); len(st.Environments) == 0 {
			continue
		}
		waves := [][]string{}
		for _, w := range st.Waves {
			if w = keep(w); len(w) > 0 {
				waves = append(waves, w)
			}
		}
		st.Waves = waves
		stages = append(stages, st)
	}
	doc.Stages = stages
	return doc, nil
}

// environments lists the environments the principal covers, a page at a time.
func environments(ctx context.Context, x Site, req report.EnvListRequest) ([]report.Environment, error) {
	p, err := x.Project(ctx)
	if err != nil {
		return nil, err
	}
	docs := report.NewEnvironments(p)
	docs = slices.DeleteFunc(docs, func(d report.Environment) bool { return !x.Covers(d.Name) })
	docs, next, err := report.PageEnvironments(docs, req.Limit, req.Cursor)
	if err != nil {
		return nil, err
	}
	x.SetNext(next)
	return docs, nil
}

func config(ctx context.Context, x Site, req report.ConfigRequest) (*report.Config, error) {
	p, err := x.Project(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewConfig(p, req.Service, req.Env, req.Explain)
}

func diff(ctx context.Context, x Site, req report.DiffRequest) (*report.Diff, error) {
	p, err := x.Project(ctx)
	if err != nil {
		return nil, err
	}
	return report.NewDiff(p, req.A, req.B, func() (map[plan.Pair]*strata.Deployment, error) { return x.Deployed(ctx) })
}

// status is the environment x service matrix of the environments the principal covers, a
// page of cells at a time.
func status(ctx context.Context, x Site, req report.StatusRequest) (*report.Status, error) {
	doc, err := x.Matrix(ctx)
	if err != nil {
		return nil, err
	}
	if err := markLive(ctx, x, doc); err != nil {
		return nil, err
	}
	if !x.CoversAll() {
		doc.Cells = slices.DeleteFunc(doc.Cells, func(c report.Cell) bool { return !x.Covers(c.Environment) })
	}
	if e, err := x.Engine(ctx); err != nil {
		return nil, err
	} else if err := doc.MarkRecalled(ctx, e.Store.Release); err != nil {
		return nil, err
	}
	if !x.CoversAll() {
		doc.Cells = slices.DeleteFunc(doc.Cells, func(c report.Cell) bool { return !x.Covers(c.Environment) })
	}
	if err := doc.PageCells(req.Limit, req.Cursor); err != nil {
		return nil, err
	}
	if req.Cursor == "" && x.CoversAll() {
		e, err := x.Engine(ctx)
		if err != nil {
			return nil, err
		}
		if err := doc.AddOrphans(ctx, e); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// history lists deployments, newest first, of the environments the principal covers. The
// limit applies after that filter.
func history(ctx context.Context, x Site, q report.HistoryQuery) ([]report.Deployment, error) {
	e, err := x.Engine(ctx)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit > 0 {
		q.Limit = limit + 1 // one more than the page says whether another follows
	}
	if !x.CoversAll() {
		q.Limit = 0
	}
	ds, err := report.NewHistory(ctx, e, q)
	if err != nil {
		return nil, err
	}
	ds = slices.DeleteFunc(ds, func(d report.Deployment) bool { return !x.Covers(d.Environment) })
	if limit > 0 && len(ds) > limit {
		ds = ds[:limit]
		x.SetNext(report.NextDeployments(ds[len(ds)-1].ID))
	}
	return ds, nil
}

// readDeployment returns a deployment the principal may read.
func readDeployment(ctx context.Context, x Site, id string) (*strata.Deployment, error) {
	s, err := x.Store(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.Deployment(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := x.Allow(ctx, read, d.Environment); err != nil {
		return nil, err
	}
	return d, nil
}

// deployment returns one deployment, marked interrupted when its owner is gone.
func deployment(ctx context.Context, x Site, req report.DeploymentRequest) (*report.Deployment, error) {
	d, err := readDeployment(ctx, x, req.ID)
	if err != nil {
		return nil, err
	}
	e, err := x.Engine(ctx)
	if err != nil {
		return nil, err
	}
	report.MarkInterrupted(ctx, e, []*strata.Deployment{d})
	doc := report.NewDeployment(d)
	if d.State == strata.Pending && d.Pool != "" {
		doc.Detail = engine.PoolDetail(ctx, e.Store, d.Pool, time.Now(), engine.AgentGone)
	}
	return doc, nil
}

// stageEnvs returns the environments of a stage of p (none for an unknown one).
func stageEnvs(p *strata.Project, stage string) []string {
	if st := p.Stage(stage); st != nil {
		return st.Environments
	}
	return nil
}

// coversAny reports whether the principal covers some environment of the stage (one who
// covers every environment covers every stage, even one gone from strata.yaml).
func coversAny(x Site, p *strata.Project, stage string) bool {
	return x.CoversAll() || slices.ContainsFunc(stageEnvs(p, stage), x.Covers)
}

// promotions lists promotions, newest first; a scoped principal sees those whose stage has
// an environment it covers.
func promotions(ctx context.Context, x Site, q report.PromotionsQuery) ([]*strata.Promotion, error) {
	s, err := x.Store(ctx)
	if err != nil {
		return nil, err
	}
	p, err := x.Project(ctx)
	if err != nil {
		return nil, err
	}
	before, err := report.PromotionCursor(q.Cursor)
	if err != nil {
		return nil, err
	}
	if before != "" {
		if _, err := s.Promotion(ctx, before); err != nil {
			return nil, strata.Errorf(strata.EINVALID, "query parameter cursor=%q: the promotion it names is not in the store; start again without a cursor", q.Cursor)
		}
	}
	f := strata.PromotionFilter{Service: q.Service, Before: before}
	if q.State != "" {
		f.States = strings.Split(q.State, ",")
	}
	if x.CoversAll() && q.Limit > 0 {
		f.Limit = q.Limit + 1 // one more than the page says whether another follows
	}
	ps, err := s.Promotions(ctx, f)
	if err != nil {
		return nil, err
	}
	out := []*strata.Promotion{}
	for _, pr := range ps {
		if coversAny(x, p, pr.Stage) {
			out = append(out, pr)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
		x.SetNext(report.NextPromotions(out[len(out)-1].ID))
	}
	return out, nil
}

// promotion returns one promotion judged now: its gates and what would open them.
func promotion(ctx context.Context, x Site, req report.PromotionRequest) (*report.Promotion, error) {
	s, err := x.Store(ctx)
	if err != nil {
		return nil, err
	}
	e, err := x.Engine(ctx)
	if err != nil {
		return nil, err
	}
	pr, err := s.Promotion(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	if !coversAny(x, e.Project, pr.Stage) {
		return nil, Deny("%s's token covers no environment of stage %s", e.Actor, pr.Stage)
	}
	res, err := judge(ctx, s, e, pr)
	if err != nil {
		return nil, err
	}
	return report.NewPromotion(res), nil
}

// judge returns pr with its gates as they stand now and the deployments it ran, changing
// nothing (engine.Advance would run it when they hold).
func judge(ctx context.Context, s strata.Store, e *engine.Engine, pr *strata.Promotion) (*engine.PromotionResult, error) {
	res := &engine.PromotionResult{Promotion: pr, Gates: []plan.Gate{}, Waves: [][]string{}}
	ds, err := s.Deployments(ctx, strata.DeploymentFilter{PromotionID: pr.ID})
	if err != nil {
		return nil, err
	}
	slices.Reverse(ds) // oldest first, as they ran
	res.Deployments = ds
	st, err := e.StageOf(pr)
	if err != nil {
		return res, nil
	}
	res.Waves = plan.Waves(st)
	if pr.State != strata.Waiting {
		return res, nil
	}
	f, err := e.PromotionFactsOf(ctx, pr)
	if err != nil {
		return nil, err
	}
	r := e.PromotionRequest(pr, st)
	r.OverrideBy = pr.Requester
	res.Gates = plan.Gates(e.Project, r, f)
	return res, nil
}

// audit returns the audit log, or with Verify its verification. A scoped principal sees
// the events of the environments it covers, the promotion-level events of the stages that
// hold one, and the events of no environment and no stage; the limit applies after that
// filter.
func audit(ctx context.Context, x Site, req report.AuditRequest) (*report.AuditLog, error) {
	s, err := x.Store(ctx)
	if err != nil {
		return nil, err
	}
	if req.Verify {
		v, err := report.VerifyStore(ctx, s)
		if v == nil {
			return nil, err
		}
		return &report.AuditLog{Verification: v}, err
	}
	f := req.Filter()
	if f.Before, err = report.EventCursor(req.Cursor); err != nil {
		return nil, err
	}
	if f.Limit > 0 {
		f.Limit++ // one more than the page says whether another follows
	}
	var p *strata.Project
	if f.Environment != "" || !x.CoversAll() {
		p, _ = x.Project(ctx) // without a readable project, promotion events are not matched to stages
	}
	var sees func(*strata.Event) bool
	if !x.CoversAll() {
		sees = func(e *strata.Event) bool { return report.SeesEvent(p, x.Covers, e) }
	}
	events, err := report.Audit(ctx, s, p, f, sees)
	if err != nil {
		return nil, err
	}
	if req.Limit > 0 && len(events) > req.Limit {
		events = events[len(events)-req.Limit:]
		x.SetNext(report.NextEvents(events[0].Seq))
	}
	return &report.AuditLog{Events: events}, nil
}

// drift reports config and version drift in the environments the principal covers.
func drift(ctx context.Context, x Site, req report.DriftRequest) (*report.Drift, error) {
	e, err := x.Engine(ctx)
	if err != nil {
		return nil, err
	}
	wait, err := req.ObserveWait()
	if err != nil {
		return nil, err
	}
	doc, err := report.NewDrift(engine.WithAgentWait(ctx, wait), e, req.Env)
	if doc == nil || x.CoversAll() {
		return doc, err
	}
	doc.Drift = slices.DeleteFunc(doc.Drift, func(it engine.DriftItem) bool { return !x.Covers(it.Environment) })
	if len(doc.Drift) == 0 {
		return doc, nil
	}
	return doc, strata.Errorf(strata.EFAILED, "drift found: %d item(s)", len(doc.Drift))
}

// agents lists the agents that registered, with what each runs: the pools of the
// environments the principal may see.
func agents(ctx context.Context, x Site, _ None) ([]report.Agent, error) {
	s, err := x.Store(ctx)
	if err != nil {
		return nil, err
	}
	p, err := x.Project(ctx)
	if err != nil {
		return nil, err
	}
	var covers func(string) bool
	if !x.CoversAll() {
		covers = x.Covers
	}
	as, _, err := report.ListAgents(ctx, s, p, time.Now(), covers)
	return as, err
}

// stats computes the DORA figures from the deployments of the environments the principal
// covers.
func stats(ctx context.Context, x Site, req report.StatsRequest) (*report.Stats, error) {
	e, err := x.Engine(ctx)
	if err != nil {
		return nil, err
	}
	var covers func(string) bool
	if !x.CoversAll() {
		covers = x.Covers
	}
	return report.NewStats(ctx, e, req, covers)
}

// graph draws the project with the environments the principal covers.
func graph(ctx context.Context, x Site, req report.GraphRequest) (*report.Graph, error) {
	p, err := x.Project(ctx)
	if err != nil {
		return nil, err
	}
	var covers func(string) bool
	if !x.CoversAll() {
		covers = x.Covers
	}
	return report.NewGraph(p, req, covers)
}
