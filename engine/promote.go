package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/telemetry"
	"go.opentelemetry.io/otel/attribute"
)

// PromoteRequest asks to move a release into a stage.
type PromoteRequest struct {
	Service string
	Version string // "" for the newest release
	To      string // "" for the next stage the release has not reached
	// Auto marks a promotion the pipeline made by itself (an auto stage).
	Auto bool
	// OverrideWindow opens closed deploy windows; Reason is required with it.
	OverrideWindow bool
	Reason         string
	// Only narrows the stage to these of its environments (`--only`, a hotfix).
	Only []string
	// Members, when it holds more than one release, makes the promotion a release train
	// (train.go); Service and Version are then ignored for its first member's.
	Members []strata.Member
}

// PromotionResult is a promotion with its gates and the deployments it ran. Next is the
// promotion into the following auto stage it chained into, if any.
type PromotionResult struct {
	Promotion   *strata.Promotion
	Gates       []plan.Gate
	Waves       [][]string
	Deployments []*strata.Deployment
	Next        *PromotionResult
}

// Chain returns r and every promotion it chained into, in order.
func (r *PromotionResult) Chain() []*PromotionResult {
	var out []*PromotionResult
	for x := r; x != nil; x = x.Next {
		out = append(out, x)
	}
	return out
}

// Last is the final promotion of the chain.
func (r *PromotionResult) Last() *PromotionResult {
	c := r.Chain()
	return c[len(c)-1]
}

// target resolves a promotion's release and stage, and gathers the facts its gates read: the
// release comes first, since they are facts of that release alone. For a release train
// (req.Members) the release is its first member's, and train lists every member resolved
// (nil for one release).
func (e *Engine) target(ctx context.Context, req PromoteRequest) (rel *strata.Release, st *strata.Stage, f plan.Facts, train []strata.Member, err error) {
	if len(req.Members) > 1 {
		return e.trainTarget(ctx, req)
	}
	if e.Project.Service(req.Service) == nil {
		return nil, nil, f, nil, notFound("service", req.Service, e.Project.ServiceNames())
	}
	if rel, err = e.findRelease(ctx, req.Service, req.Version); err != nil {
		return nil, nil, f, nil, err
	}
	st, f, err = e.targetStage(ctx, req, []*strata.Release{rel})
	return rel, st, f, nil, err
}

// targetStage resolves the stage a promotion of rels goes to, narrowed to req.Only, and
// gathers the facts of rels: req.To, or the first stage where one of them has not yet run
// healthy everywhere.
func (e *Engine) targetStage(ctx context.Context, req PromoteRequest, rels []*strata.Release) (*strata.Stage, plan.Facts, error) {
	var f plan.Facts
	var err error
	var st *strata.Stage
	if req.To != "" {
		if st = e.Project.Stage(req.To); st == nil {
			var names []string
			for _, s := range e.Project.Pipeline {
				names = append(names, s.Name)
			}
			return nil, f, notFound("stage", req.To, names)
		}
	}
	var ms []strata.Member
	for _, rel := range rels {
		ms = append(ms, strata.Member{Service: rel.Service, Version: rel.Version})
	}
	if f, err = e.trainFacts(ctx, ms); err != nil {
		return nil, f, err
	}
	if st == nil {
		first := -1
		for _, m := range ms {
			if next := plan.NextStage(e.Project, m.Service, m.Version, f); next != nil {
				if i := e.Project.StageIndex(next.Name); first < 0 || i < first {
					first, st = i, next
				}
			}
		}
		if st == nil {
			return nil, f, strata.Errorf(strata.EINVALID, "%s has run healthy in every stage already; name one with --to to promote it again", trainName(&strata.Promotion{Members: ms}))
		}
	}
	if st, err = plan.Narrow(st, req.Only); err != nil {
		return nil, f, err
	}
	return st, f, nil
}

// Plan judges the promotion req would make, changing nothing.
func (e *Engine) Plan(ctx context.Context, req PromoteRequest) (*PromotionResult, error) {
	rel, st, f, train, err := e.target(ctx, req)
	if err != nil {
		return nil, err
	}
	p := &strata.Promotion{Service: rel.Service, Version: rel.Version, Stage: st.Name, Requester: e.Actor, Override: req.OverrideWindow, Reason: req.Reason,
		Only: only(req, st), Members: train}
	gates := e.gates(p, st, f)
	p.State = strata.Waiting
	if plan.Open(gates) {
		p.State = strata.Running
	}
	return &PromotionResult{Promotion: p, Gates: gates, Waves: plan.Waves(st), Deployments: []*strata.Deployment{}}, nil
}

func (e *Engine) gates(p *strata.Promotion, st *strata.Stage, f plan.Facts) []plan.Gate {
	return plan.Gates(e.Project, e.PromotionRequest(p, st), f)
}

// only is the environments a promotion of req into st (narrowed) names, in the stage's
// order: none when it asked for the whole stage.
func only(req PromoteRequest, st *strata.Stage) []string {
	if len(req.Only) == 0 {
		return nil
	}
	return st.Environments
}

// Promote records a promotion and runs it when every gate holds. With a closed gate it is
// left waiting and Promote returns EBLOCKED along with the result. A promotion of the same
// release into the same stage that is already open is returned instead of a second one.
func (e *Engine) Promote(ctx context.Context, req PromoteRequest) (*PromotionResult, error) {
	if req.OverrideWindow && strings.TrimSpace(req.Reason) == "" {
		return nil, strata.Errorf(strata.EINVALID, "--override-window needs --reason saying why (it is recorded in the audit log)")
	}
	if err := strata.CheckText("--reason", req.Reason); err != nil {
		return nil, err
	}
	rel, st, f, train, err := e.target(ctx, req)
	if err != nil {
		return nil, err
	}
	// A release whose bundle cannot be had is refused now, not after it waited for its
	// gates; fetched here, its waves find it on this machine.
	for _, m := range members(&strata.Promotion{Service: rel.Service, Version: rel.Version, Members: train}) {
		r := rel
		if m.Service != rel.Service {
			if r, err = e.Store.Release(ctx, m.Service, m.Version); err != nil {
				return nil, err
			}
		}
		if err := e.ensureBundle(ctx, r); err != nil {
			return nil, err
		}
	}
	now := e.now()
	p := &strata.Promotion{Service: rel.Service, Version: rel.Version, Stage: st.Name, Requester: e.Actor,
		Override: req.OverrideWindow, Reason: req.Reason, CreatedAt: now, UpdatedAt: now, Approvals: []strata.Approval{},
		Only: only(req, st), Members: train}
	gates := e.gates(p, st, f)
	if err := refusedByRecall(p, gates); err != nil {
		return &PromotionResult{Promotion: p, Gates: gates, Waves: plan.Waves(st), Deployments: []*strata.Deployment{}}, err
	}
	p.State = strata.Waiting
	if plan.Open(gates) {
		// Running from its first commit, so owned from it: should this process die before
		// its first deployment, resume and the scheduler find it and carry it on.
		p.State, p.Owner, p.LeaseUntil = strata.Running, e.Owner, now.Add(e.LeaseTTL)
	}
	action := "promote"
	if req.Auto {
		action = "promote.auto"
	}
	detail := map[string]any{"version": p.Version, "stage": p.Stage, "state": p.State}
	if len(p.Only) > 0 {
		detail["only"] = p.Only
	}
	if len(p.Members) > 0 {
		detail["members"] = p.Members
	}
	if req.OverrideWindow {
		detail["override_window"] = true
		detail["reason"] = req.Reason
	}
	err = e.Store.CreatePromotion(ctx, p, e.event(action, p.Service, "", "", detail))
	if strata.ErrorCode(err) == strata.ECONFLICT {
		if req.OverrideWindow && p.State == strata.Waiting && !p.Override {
			return e.override(ctx, p, req.Reason)
		}
		e.logf("%s@%s already has an open promotion to %s: %s (%s)", p.Service, p.Version, p.Stage, p.ID, p.State)
		if p.State == strata.Waiting {
			// Its gates may have opened since (a dependency landed, a window opened): asking
			// again runs it then, as approve or resume would.
			res, err := e.Advance(ctx, p.ID)
			if err == nil && res != nil {
				err = e.endedError(res.Promotion) // another worker may have run it meanwhile
			}
			return res, err
		}
		res := &PromotionResult{Promotion: p, Gates: e.gates(p, st, f), Waves: plan.Waves(st), Deployments: []*strata.Deployment{}}
		return res, e.runningError(p)
	}
	if err != nil {
		return nil, fmt.Errorf("record promotion of %s@%s to %s: %w", p.Service, p.Version, p.Stage, err)
	}
	// Judge again now that the promotion has an id, so that a closed gate's detail names it.
	res := &PromotionResult{Promotion: p, Gates: e.gates(p, st, f), Waves: plan.Waves(st), Deployments: []*strata.Deployment{}}
	if p.State == strata.Waiting {
		e.logf("⏸ %s@%s → %s: waiting (%s)", p.Service, p.Version, p.Stage, p.ID)
		e.announce(p, strata.Waiting)
		return res, waitingError(res)
	}
	return res, e.run(ctx, res, st)
}

// override opens the closed deploy windows of a waiting promotion that someone asked for
// before, records who did it and why, and runs the promotion when no other gate is closed.
func (e *Engine) override(ctx context.Context, p *strata.Promotion, reason string) (*PromotionResult, error) {
	p.Override, p.Reason, p.UpdatedAt = true, reason, e.now()
	ev := e.event("override", p.Service, "", p.ID, map[string]any{"version": p.Version, "stage": p.Stage, "override_window": true, "reason": reason})
	if err := e.Store.UpdatePromotion(ctx, p, ev); err != nil {
		return nil, fmt.Errorf("override the windows of promotion %s: %w", p.ID, err)
	}
	e.logf("%s overrode the deploy windows of %s: %s", e.Actor, p.ID, reason)
	return e.Advance(ctx, p.ID)
}

// runningError says why a promotion that is running already is not run again: it runs
// once, by its owner, or, when its owner is gone, by whoever takes it over (resume, the
// scheduler). Asking again is blocked either way: the exit status is 0 only for a promotion
// that succeeded.
func (e *Engine) runningError(p *strata.Promotion) error {
	if e.promotionOwnerAlive(p) {
		return strata.Errorf(strata.EBLOCKED, "promotion %s of %s@%s to %s is running already (process %d on %s); it runs once: wait for it to end",
			p.ID, p.Service, p.Version, p.Stage, p.Owner.PID, p.Owner.Host)
	}
	return strata.Errorf(strata.EBLOCKED, "promotion %s of %s@%s to %s was interrupted: the process that ran it is gone; `strata resume` carries it on",
		p.ID, p.Service, p.Version, p.Stage)
}

// endedError is the error that goes with a promotion another worker took out of waiting,
// so that asking for it exits with its state's status: none when it succeeded; blocked
// while it runs (runningError) or when it was rejected; failed when it failed.
func (e *Engine) endedError(p *strata.Promotion) error {
	switch p.State {
	case strata.Succeeded:
		return nil
	case strata.Running:
		return e.runningError(p)
	case strata.Failed:
		return strata.Errorf(strata.EFAILED, "promotion %s of %s@%s to %s failed: %s", p.ID, p.Service, p.Version, p.Stage, p.Error)
	default:
		return strata.Errorf(strata.EBLOCKED, "promotion %s of %s@%s to %s is %s: %s", p.ID, p.Service, p.Version, p.Stage, p.State, p.Reason)
	}
}

// waitingError names the closed gates of a waiting promotion and what would open them.
func waitingError(r *PromotionResult) error {
	var parts []string
	for _, g := range plan.Closed(r.Gates) {
		parts = append(parts, fmt.Sprintf("gate %s: %s", g.Name, g.Detail))
	}
	return strata.Errorf(strata.EBLOCKED, "promotion %s of %s@%s to %s is waiting: %s", r.Promotion.ID, r.Promotion.Service, r.Promotion.Version, r.Promotion.Stage, strings.Join(parts, "; "))
}

// run deploys a running promotion wave by wave; a failure halts the remaining waves. When
// it succeeds and the next stage is auto, the release moves on by itself.
//
// p must be running and owned by this engine: its lease is renewed while it runs. When the
// lease is lost (another worker took it over) no further deployment starts, those under way
// end under their own leases, and the outcome is left to the new owner.
func (e *Engine) run(ctx context.Context, res *PromotionResult, st *strata.Stage) (err error) {
	p := res.Promotion
	ctx, span := telemetry.Start(ctx, "promotion", attribute.String("promotion", p.ID), attribute.String("service", p.Service),
		attribute.String("version", p.Version), attribute.String("stage", p.Stage))
	defer func() { telemetry.End(span, err) }()
	fence, lose := context.WithCancelCause(ctx)
	defer lose(nil)
	stopLease := e.keepPromotionLease(fence, p, lose)
	defer context.AfterFunc(fence, func() {
		if errors.Is(context.Cause(fence), errPromotionLeaseLost) {
			e.logf("■ %s@%s → %s: this process lost promotion %s (another worker took it over); starting no further deployment", p.Service, p.Version, p.Stage, p.ID)
		}
	})()
	e.logf("▶ %s@%s → %s (%s): %d environment(s) in %d wave(s)", p.Service, p.Version, p.Stage, p.ID, countEnvs(res.Waves), len(res.Waves))
	var failure error
	for i, wave := range res.Waves {
		if errors.Is(context.Cause(fence), errPromotionLeaseLost) {
			break
		}
		ds, err := e.deployTrainWave(ctx, fence, p, wave)
		res.Deployments = append(res.Deployments, ds...)
		if err != nil {
			failure = err
			if i+1 < len(res.Waves) {
				e.logf("■ %s → %s: halted after wave %d of %d; %d environment(s) left untouched", p.Service, p.Stage, i+1, len(res.Waves), countEnvs(res.Waves[i+1:]))
			}
			break
		}
	}
	stopLease()
	if errors.Is(context.Cause(fence), errPromotionLeaseLost) {
		return strata.Errorf(strata.EFAILED, "promotion %s of %s@%s to %s: this process %w; it started no further deployment",
			p.ID, p.Service, p.Version, p.Stage, errPromotionLeaseLost)
	}
	p.UpdatedAt = e.now()
	p.State = strata.Succeeded
	if failure != nil {
		p.State = strata.Failed
		p.Error = failure.Error()
	}
	if err := e.Store.UpdatePromotion(context.WithoutCancel(ctx), p, e.endEvent(p, res.Deployments)); err != nil {
		return fmt.Errorf("record promotion %s: %w", p.ID, err)
	}
	e.announce(p, promotionEvent(p, res.Deployments))
	if failure != nil {
		return strata.Errorf(strata.EFAILED, "promotion %s of %s@%s to %s failed: %w", p.ID, p.Service, p.Version, p.Stage, failure)
	}
	e.logf("✓ %s@%s → %s: succeeded", p.Service, p.Version, p.Stage)
	// A promotion into part of a stage (Only) leaves the release short of the whole stage,
	// and one into an environment's own stage is in no pipeline: neither moves on by itself.
	idx := e.Project.StageIndex(st.Name)
	if idx >= 0 && len(p.Only) == 0 && idx+1 < len(e.Project.Pipeline) && e.Project.Pipeline[idx+1].Auto {
		next, err := e.Promote(ctx, PromoteRequest{Service: p.Service, Version: p.Version, Members: p.Members, To: e.Project.Pipeline[idx+1].Name, Auto: true})
		res.Next = next
		return err
	}
	return nil
}

func countEnvs(waves [][]string) int {
	n := 0
	for _, w := range waves {
		n += len(w)
	}
	return n
}

// deployWave deploys release m of promotion p to one wave, at most Parallel at a time, and
// waits for all of them. fence ends when the promotion is no longer this process's; no
// deployment is claimed then.
func (e *Engine) deployWave(ctx, fence context.Context, p *strata.Promotion, m strata.Member, wave []string) (_ []*strata.Deployment, err error) {
	ctx, span := telemetry.Start(ctx, "wave", attribute.String("promotion", p.ID), attribute.String("service", m.Service), attribute.StringSlice("environments", wave))
	defer func() { telemetry.End(span, err) }()
	rel, err := e.findRelease(ctx, m.Service, m.Version)
	if err != nil {
		return nil, err
	}
	// The artifacts are hashed once for the wave, not once per environment: hashing a large
	// release for every one of hundreds of environments cost more than deploying it. When
	// they do not match, each deployment checks again and fails with the reason.
	if err := e.ensureBundle(ctx, rel); err != nil {
		return nil, err
	}
	verified := e.verifyArtifacts(rel) == ""
	out := make([]*strata.Deployment, len(wave))
	errs := make([]error, len(wave))
	// Workers take the wave's environments in order; each records the outcome of its last
	// deployment with the claim of its next (carry.go).
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(max(1, e.Parallel), len(wave)) {
		wg.Go(func() {
			h := e.newHandover()
			for i := range jobs {
				out[i], errs[i] = e.Deploy(ctx, DeployRequest{Service: m.Service, Version: m.Version, Env: wave[i], Kind: KindPromotion, PromotionID: p.ID, SkipPolicy: true, release: rel, verified: verified, handover: h, fence: fence})
				h.reportTo(&errs[i])
			}
			h.flush(ctx)
		})
	}
	for i := range wave {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	var ds []*strata.Deployment
	for i := range wave {
		if out[i] != nil {
			ds = append(ds, out[i])
		}
	}
	// Joined, not flattened into text: each failure keeps its code and its chain.
	return ds, errors.Join(errs...)
}

// Approve records principal's approval of a waiting promotion and runs it when that opened
// the last gate. The requester cannot approve their own promotion.
func (e *Engine) Approve(ctx context.Context, id string) (*PromotionResult, error) {
	p, err := e.Store.Promotion(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.State != strata.Waiting {
		return nil, strata.Errorf(strata.ECONFLICT, "promotion %s is %s, not waiting; only a waiting promotion can be approved", p.ID, p.State)
	}
	if p.Requester == e.Actor {
		return nil, strata.Errorf(strata.EINVALID, "%s requested promotion %s and cannot approve it; approvals come from someone else", e.Actor, p.ID)
	}
	if err := e.Store.Approve(ctx, id, strata.Approval{Principal: e.Actor, At: e.now()}, e.event("approve", p.Service, "", p.ID, map[string]any{"version": p.Version, "stage": p.Stage})); err != nil {
		return nil, err
	}
	return e.Advance(ctx, id)
}

// Advance re-judges a waiting promotion and runs it when every gate now holds.
func (e *Engine) Advance(ctx context.Context, id string) (*PromotionResult, error) {
	p, err := e.Store.Promotion(ctx, id)
	if err != nil {
		return nil, err
	}
	st, err := e.StageOf(p)
	if err != nil {
		return nil, err
	}
	f, err := e.PromotionFactsOf(ctx, p)
	if err != nil {
		return nil, err
	}
	res := &PromotionResult{Promotion: p, Gates: e.gates(p, st, f), Waves: plan.Waves(st), Deployments: []*strata.Deployment{}}
	if p.State != strata.Waiting {
		return res, nil
	}
	if !plan.Open(res.Gates) {
		return res, waitingError(res)
	}
	// Compare and set: of several workers that found the gates open, one runs it.
	until := e.now().Add(e.LeaseTTL)
	err = e.Store.ClaimPromotion(ctx, p.ID, e.Owner, until, e.event("promotion.running", p.Service, "", p.ID, map[string]any{"version": p.Version, "stage": p.Stage}))
	if strata.ErrorCode(err) == strata.ECONFLICT {
		if now, err := e.Store.Promotion(ctx, id); err == nil {
			res.Promotion = now
		}
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	p.State, p.UpdatedAt, p.Owner, p.LeaseUntil = strata.Running, e.now(), e.Owner, until
	return res, e.run(ctx, res, st)
}

// Reject closes a waiting promotion for good.
func (e *Engine) Reject(ctx context.Context, id, reason string) (*strata.Promotion, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, strata.Errorf(strata.EINVALID, "reject needs --reason saying why")
	}
	if err := strata.CheckText("--reason", reason); err != nil {
		return nil, err
	}
	p, err := e.Store.Promotion(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.State != strata.Waiting {
		return nil, strata.Errorf(strata.ECONFLICT, "promotion %s is %s, not waiting; only a waiting promotion can be rejected", p.ID, p.State)
	}
	p.State, p.Reason, p.UpdatedAt = strata.Rejected, reason, e.now()
	if err := e.Store.UpdatePromotion(ctx, p, e.event("reject", p.Service, "", p.ID, map[string]any{"version": p.Version, "stage": p.Stage, "reason": reason})); err != nil {
		return nil, err
	}
	return p, nil
}

// endEvent is the audit event of a promotion that ended: promotion.succeeded or
// promotion.failed, whose detail says rolled_back when one of its deployments was rolled
// back (a webhook announces that as "rolled_back", package notify).
func (e *Engine) endEvent(p *strata.Promotion, ds []*strata.Deployment) *strata.Event {
	detail := map[string]any{"version": p.Version, "stage": p.Stage, "error": p.Error}
	if promotionEvent(p, ds) == strata.RolledBack {
		detail["rolled_back"] = true
	}
	return e.event("promotion."+p.State, p.Service, "", p.ID, detail)
}

// promotionEvent names how a promotion ended for OnPromotion: "rolled_back" when it failed
// and one of its deployments was rolled back, else its state.
func promotionEvent(p *strata.Promotion, ds []*strata.Deployment) string {
	if p.State == strata.Failed {
		for _, d := range ds {
			if d != nil && d.State == strata.RolledBack {
				return strata.RolledBack
			}
		}
	}
	return p.State
}
