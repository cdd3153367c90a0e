package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// A recall marks a release bad. It is committed first; then the waiting promotions of the
// release are rejected and, when asked, every environment that runs it is rolled back, in
// the pipeline's order and its stages' waves, as a promotion would deploy it. The recall
// gate (plan.RecallGate) then refuses every promotion and deployment of the release, and
// rollbacks and `deploy` without a version pass it over.

// RecallRequest asks to mark service@version bad.
type RecallRequest struct {
	Service, Version, Reason string
	// Rollback rolls back every environment that runs the release.
	Rollback bool
}

// RecallResult is what a recall did.
type RecallResult struct {
	Release *strata.Release
	// Rejected are the waiting promotions of the release that the recall rejected.
	Rejected []*strata.Promotion
	// Waves are the environments that ran the release, in the waves they were rolled
	// back in (with Rollback).
	Waves [][]string
	// Rollbacks are the rollback deployments, in wave order; Left are the environments
	// that still run the release because a wave before theirs failed.
	Rollbacks []*strata.Deployment
	Left      []string
}

// Recall marks req's release bad (audited as recall), rejects its waiting promotions and,
// with req.Rollback, rolls back every environment that runs it. A release recalled already
// is ECONFLICT naming who recalled it, unless req.Rollback asks to roll back what still runs
// it (a recall whose rollbacks were cut short is carried on by asking again). A failed
// rollback halts the waves after it and returns EFAILED with the result.
func (e *Engine) Recall(ctx context.Context, req RecallRequest) (*RecallResult, error) {
	if err := e.checkRecall(req.Service, req.Version, req.Reason, "recall"); err != nil {
		return nil, err
	}
	r := &strata.Recall{By: e.Actor, Reason: req.Reason, At: e.now()}
	ev := e.event("recall", req.Service, "", "", map[string]any{"version": req.Version, "reason": req.Reason, "rollback": req.Rollback})
	err := e.Store.SetRecall(ctx, req.Service, req.Version, r, ev)
	again := strata.ErrorCode(err) == strata.ECONFLICT && req.Rollback
	if err != nil && !again {
		return nil, e.recallError(ctx, req.Service, req.Version, err)
	}
	rel, err := e.Store.Release(ctx, req.Service, req.Version)
	if err != nil {
		return nil, err
	}
	res := &RecallResult{Release: rel, Rejected: []*strata.Promotion{}, Waves: [][]string{}, Rollbacks: []*strata.Deployment{}, Left: []string{}}
	if again {
		e.logf("%s@%s is recalled already, by %s (%s): rolling back what still runs it", rel.Service, rel.Version, rel.Recalled.By, rel.Recalled.Reason)
	} else {
		e.logf("⛔ %s@%s recalled by %s: %s", rel.Service, rel.Version, e.Actor, req.Reason)
	}
	if res.Rejected, err = e.rejectWaiting(ctx, rel); err != nil {
		return res, err
	}
	if !req.Rollback {
		return res, nil
	}
	return res, e.rollbackRecalled(ctx, res)
}

// Unrecall lifts the recall of service@version (audited as unrecall, with why and whose
// recall it lifted). ENOTFOUND when it is not recalled.
func (e *Engine) Unrecall(ctx context.Context, service, version, reason string) (*strata.Release, error) {
	if err := e.checkRecall(service, version, reason, "unrecall"); err != nil {
		return nil, err
	}
	rel, err := e.findRelease(ctx, service, version)
	if err != nil {
		return nil, err
	}
	detail := map[string]any{"version": version, "reason": reason}
	if rel.Recalled != nil {
		detail["recalled_by"], detail["recall_reason"] = rel.Recalled.By, rel.Recalled.Reason
	}
	if err := e.Store.SetRecall(ctx, service, version, nil, e.event("unrecall", service, "", "", detail)); err != nil {
		return nil, err
	}
	e.logf("✓ %s@%s unrecalled by %s: %s", service, version, e.Actor, reason)
	rel.Recalled = nil
	return rel, nil
}

// checkRecall refuses a recall or unrecall that names no known service, no version or no
// reason, or whose reason breaks the text rule, before anything is recorded.
func (e *Engine) checkRecall(service, version, reason, verb string) error {
	if e.Project.Service(service) == nil {
		return notFound("service", service, e.Project.ServiceNames())
	}
	if version == "" {
		return strata.Errorf(strata.EINVALID, "%s needs the release as SERVICE@VERSION, e.g. `strata %s %s@1.2.0 --reason R`", verb, verb, service)
	}
	if strings.TrimSpace(reason) == "" {
		return strata.Errorf(strata.EINVALID, "%s needs --reason saying why (it is recorded in the audit log and shown with the release)", verb)
	}
	return strata.CheckText("--reason", reason)
}

// recallError words the store's refusal of a recall: an unknown version names the known
// ones, as deploy does.
func (e *Engine) recallError(ctx context.Context, service, version string, err error) error {
	if strata.ErrorCode(err) == strata.ENOTFOUND {
		if _, ferr := e.findRelease(ctx, service, version); ferr != nil {
			return ferr
		}
	}
	return err
}

// rejectWaiting rejects every waiting promotion of rel: its gates can no longer open.
func (e *Engine) rejectWaiting(ctx context.Context, rel *strata.Release) ([]*strata.Promotion, error) {
	ps, err := e.Store.Promotions(ctx, strata.PromotionFilter{Service: rel.Service, Version: rel.Version, States: []string{strata.Waiting}})
	if err != nil {
		return nil, fmt.Errorf("find the waiting promotions of %s@%s: %w", rel.Service, rel.Version, err)
	}
	out := []*strata.Promotion{}
	for _, p := range ps {
		reason := fmt.Sprintf("%s@%s was recalled by %s: %s", rel.Service, rel.Version, rel.Recalled.By, rel.Recalled.Reason)
		p.State, p.Reason, p.UpdatedAt = strata.Rejected, reason, e.now()
		ev := e.event("reject", p.Service, "", p.ID, map[string]any{"version": p.Version, "stage": p.Stage, "reason": reason, "recall": true})
		err := e.Store.UpdatePromotion(ctx, p, ev)
		if strata.ErrorCode(err) == strata.ECONFLICT {
			continue // it left waiting meanwhile; the recall gate stops its deployments
		}
		if err != nil {
			return out, fmt.Errorf("reject promotion %s of recalled %s@%s: %w", p.ID, p.Service, p.Version, err)
		}
		e.logf("  rejected waiting promotion %s to %s", p.ID, p.Stage)
		e.announce(p, strata.Rejected)
		out = append(out, p)
	}
	return out, nil
}

// RecallWaves returns the environments where service@version runs now, in the waves a
// recall's rollback takes them in: the pipeline's stages in order, each in its waves, then
// the environments of no stage (short-lived ones) together.
func (e *Engine) RecallWaves(ctx context.Context, service, version string) ([][]string, error) {
	f := e.noFacts()
	if err := e.readCurrent(ctx, f, strata.DeploymentFilter{Service: service}); err != nil {
		return nil, err
	}
	runs := map[string]bool{}
	for k, d := range f.Current {
		if d.Version == version && e.Project.Environment(k.Environment) != nil {
			runs[k.Environment] = true
		}
	}
	waves := [][]string{}
	for _, st := range e.Project.Pipeline {
		for _, w := range plan.Waves(st) {
			var wave []string
			for _, env := range w {
				if runs[env] {
					wave = append(wave, env)
					delete(runs, env)
				}
			}
			if len(wave) > 0 {
				waves = append(waves, wave)
			}
		}
	}
	var rest []string
	for _, env := range e.Project.Environments {
		if runs[env.Name] {
			rest = append(rest, env.Name)
		}
	}
	if len(rest) > 0 {
		waves = append(waves, rest)
	}
	return waves, nil
}

// rollbackRecalled rolls back every environment that runs res's release, wave by wave, at
// most Parallel at a time; a failure halts the waves after it.
func (e *Engine) rollbackRecalled(ctx context.Context, res *RecallResult) error {
	rel := res.Release
	waves, err := e.RecallWaves(ctx, rel.Service, rel.Version)
	if err != nil {
		return err
	}
	res.Waves = waves
	if len(waves) == 0 {
		e.logf("  %s@%s runs nowhere: nothing to roll back", rel.Service, rel.Version)
		return nil
	}
	e.logf("↺ %s@%s: rolling back %d environment(s) in %d wave(s)", rel.Service, rel.Version, countEnvs(waves), len(waves))
	for i, wave := range waves {
		e.logf("  wave %d of %d: %s", i+1, len(waves), strings.Join(wave, ", "))
		ds := make([]*strata.Deployment, len(wave))
		errs := make([]error, len(wave))
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range min(max(1, e.Parallel), len(wave)) {
			wg.Go(func() {
				for j := range jobs {
					ds[j], errs[j] = e.Rollback(ctx, rel.Service, wave[j], "")
					if errs[j] != nil {
						errs[j] = fmt.Errorf("roll back %s in %s: %w", rel.Service, wave[j], errs[j])
					}
				}
			})
		}
		for j := range wave {
			jobs <- j
		}
		close(jobs)
		wg.Wait()
		for _, d := range ds {
			if d != nil {
				res.Rollbacks = append(res.Rollbacks, d)
			}
		}
		if err := errors.Join(errs...); err != nil {
			for _, w := range waves[i+1:] {
				res.Left = append(res.Left, w...)
			}
			if len(res.Left) > 0 {
				e.logf("■ %s@%s: halted after wave %d of %d; %s still run it", rel.Service, rel.Version, i+1, len(waves), strings.Join(res.Left, ", "))
			}
			return &strata.Error{Code: strata.EFAILED, Message: fmt.Sprintf("recall of %s@%s: a rollback failed; `strata recall %s@%s --rollback --reason R` again carries on",
				rel.Service, rel.Version, rel.Service, rel.Version), Err: err}
		}
	}
	e.logf("✓ %s@%s: rolled back everywhere it ran", rel.Service, rel.Version)
	return nil
}

// recalled reports whether service@version is a recalled release.
func (e *Engine) recalled(ctx context.Context, service, version string) (bool, error) {
	rel, err := e.Store.Release(ctx, service, version)
	if strata.ErrorCode(err) == strata.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("is %s@%s recalled: %w", service, version, err)
	}
	return rel.Recalled != nil, nil
}

// readRecall adds to f the recall of service@version, if it is recalled.
func (e *Engine) readRecall(ctx context.Context, f plan.Facts, service, version string) error {
	rel, err := e.Store.Release(ctx, service, version)
	if strata.ErrorCode(err) == strata.ENOTFOUND {
		return nil
	}
	if err != nil {
		return fmt.Errorf("is %s@%s recalled: %w", service, version, err)
	}
	plan.AddRecall(f, rel)
	return nil
}

// refusedByRecall is EBLOCKED, naming the recall gate, when gates hold it closed: a
// promotion of a recalled release is refused, not recorded to wait, and p says so (state
// rejected, the gate's detail as its reason).
func refusedByRecall(p *strata.Promotion, gates []plan.Gate) error {
	for _, g := range gates {
		if g.Name == plan.GateRecall && !g.OK {
			p.State, p.Reason = strata.Rejected, g.Detail
			return strata.Errorf(strata.EBLOCKED, "promotion of %s@%s to %s refused: gate %s: %s", p.Service, p.Version, p.Stage, g.Name, g.Detail)
		}
	}
	return nil
}

// recallBlocks is EBLOCKED, naming the recall gate, when rel is recalled.
func recallBlocks(rel *strata.Release, f plan.Facts) error {
	plan.AddRecall(f, rel)
	if g := plan.RecallGate(rel.Service, rel.Version, f); !g.OK {
		return strata.Errorf(strata.EBLOCKED, "gate %s: %s", g.Name, g.Detail)
	}
	return nil
}
