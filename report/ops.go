package report

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"slices"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// The operations below are each command's work on an engine, checked and turned into its
// document: the CLI calls them on its own engine, the server on a per-request copy whose
// Actor is the token's name (they may set the copy's Parallel).

// Deploy deploys one release to one environment.
func Deploy(ctx context.Context, e *engine.Engine, req DeployRequest) (*Deployment, error) {
	if err := NeedEnv(e.Project, req.Env); err != nil {
		return nil, err
	}
	var pick *engine.Pick
	if req.Version == "" {
		var err error
		if pick, err = e.PickRelease(ctx, req.Service, req.Env); err != nil {
			return nil, err
		}
		req.Version = pick.Version
	}
	d, err := e.Deploy(ctx, engine.DeployRequest{Service: req.Service, Version: req.Version, Env: req.Env, NoWait: req.NoWait})
	if opened := (*engine.OpenedPromotion)(nil); errors.As(err, &opened) {
		return openedPromotion(opened.Result, req.Env), err
	}
	doc, err := deployment(d, err)
	if doc != nil {
		doc.Picked = pick
	}
	return doc, err
}

// Rollback redeploys the previous good release of a service in an environment (or To).
func Rollback(ctx context.Context, e *engine.Engine, req RollbackRequest) (*Deployment, error) {
	if err := NeedEnv(e.Project, req.Env); err != nil {
		return nil, err
	}
	d, err := e.RollbackWith(ctx, engine.RollbackRequest{Service: req.Service, Env: req.Env, To: req.To,
		OverrideFreeze: req.OverrideFreeze, OverrideWindow: req.OverrideWindow, Reason: req.Reason})
	return deployment(d, err)
}

// openedPromotion is the document of a deploy that opened promotion res instead: the
// promotion's id and state, and its gates.
func openedPromotion(res *engine.PromotionResult, env string) *Deployment {
	p := res.Promotion
	return &Deployment{ID: p.ID, Service: p.Service, Environment: env, Version: p.Version, State: p.State,
		Kind: engine.KindPromotion, Promotion: p.ID, Actor: p.Requester, Gates: res.Gates}
}

func deployment(d *strata.Deployment, err error) (*Deployment, error) {
	if d == nil {
		return nil, err
	}
	return NewDeployment(d), err
}

// CutRelease builds a service once, records the release and lands it in the auto stages.
func CutRelease(ctx context.Context, e *engine.Engine, req ReleaseRequest) (*Release, error) {
	if err := parallel(e, req.Parallel); err != nil {
		return nil, err
	}
	res, err := e.ReleaseFrom(ctx, engine.ReleaseSpec{Service: req.Service, Version: req.Version, Artifacts: req.Artifacts, Bundle: req.Bundle})
	if res == nil {
		return nil, err
	}
	return NewRelease(res), err
}

// Promote asks to move a release into a stage; it runs when every gate holds. A promotion
// that waits on a gate comes with EBLOCKED.
func Promote(ctx context.Context, e *engine.Engine, req PromoteRequest) (*Promotion, error) {
	if err := parallel(e, req.Parallel); err != nil {
		return nil, err
	}
	res, err := e.Promote(ctx, req.Engine())
	return promotion(res, err)
}

// Approve approves a waiting promotion as e's actor; it runs when that opens its last gate.
func Approve(ctx context.Context, e *engine.Engine, id string, req ApproveRequest) (*Promotion, error) {
	if err := parallel(e, req.Parallel); err != nil {
		return nil, err
	}
	res, err := e.Approve(ctx, id)
	return promotion(res, err)
}

// Reject rejects a waiting promotion.
func Reject(ctx context.Context, e *engine.Engine, id string, req RejectRequest) (*Promotion, error) {
	p, err := e.Reject(ctx, id, req.Reason)
	if err != nil {
		return nil, err
	}
	return NewPromotion(&engine.PromotionResult{Promotion: p}), nil
}

func promotion(res *engine.PromotionResult, err error) (*Promotion, error) {
	if res == nil {
		return nil, err
	}
	return NewPromotion(res), err
}

// parallel sets how many environments of a wave deploy at once (0 leaves the default).
func parallel(e *engine.Engine, n int) error {
	if n < 0 {
		return strata.Errorf(strata.EINVALID, "--parallel %d: want 1 or more environments at once", n)
	}
	if n > 0 {
		e.Parallel = n
	}
	return nil
}

// ResumeAll runs interrupted deployments again, runs promotions whose gates opened and
// destroys expired short-lived environments.
func ResumeAll(ctx context.Context, e *engine.Engine) (*Resume, error) {
	res, err := e.Resume(ctx)
	if res == nil {
		return nil, err
	}
	return NewResume(res), err
}

// Audit reads the events f selects, oldest first, never nil. With f.Environment and p it
// keeps that environment's events and the promotion-level events (promote, approve, reject,
// override, a promotion's outcome) of every stage that holds the environment, as p's
// pipeline says: they carry a stage, not one environment, and they are what let the
// environment's deployments happen. With sees, only the
// events sees keeps (a scoped principal's, SeesEvent). With f.Limit, the newest f.Limit
// events kept: the log is scanned from its newest event and the scan stops there, so
// neither the whole log nor the events dropped are held.
func Audit(ctx context.Context, s strata.Store, p *strata.Project, f strata.EventFilter, sees func(*strata.Event) bool) ([]*strata.Event, error) {
	var stages map[string]bool
	if f.Environment != "" && p != nil {
		stages = map[string]bool{}
		for _, st := range p.StagesOf(f.Environment) {
			stages[st.Name] = true
		}
		f.Unplaced = true // promotion-level events name no environment; kept by stage below
	}
	if stages == nil && sees == nil {
		events, err := s.Events(ctx, f)
		if err != nil {
			return nil, err
		}
		if events == nil {
			events = []*strata.Event{}
		}
		return events, nil
	}
	limit := f.Limit
	f.Limit = 0
	events := []*strata.Event{}
	err := s.ScanEvents(ctx, f, limit > 0, func(e *strata.Event) error {
		if stages != nil && e.Environment == "" && !stages[EventStage(e)] {
			return nil
		}
		if sees != nil && !sees(e) {
			return nil
		}
		events = append(events, e)
		if limit > 0 && len(events) == limit {
			return strata.ErrStopScan
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if limit > 0 {
		slices.Reverse(events)
	}
	return events, nil
}

// SeesEvent reports whether a principal covering the environments covers says (nil: every
// environment) may see audit event e of p, in the API and the dashboard alike: an event of
// an environment it covers; a promotion-level event, which names a stage, when it covers an
// environment of that stage (as the promotions list); any other event of no environment. An
// environment or stage p no longer has is seen only by a principal covering every one.
func SeesEvent(p *strata.Project, covers func(env string) bool, e *strata.Event) bool {
	if covers == nil {
		return true
	}
	if e.Environment != "" {
		return covers(e.Environment)
	}
	name := EventStage(e)
	if name == "" {
		return true
	}
	if p == nil {
		return false
	}
	st := p.Stage(name)
	return st != nil && slices.ContainsFunc(st.Environments, covers)
}

// EventStage is the stage an event's detail names, if any: promotion-level events (promote,
// approve, reject, override, a promotion's outcome) concern a stage, not one environment,
// and whoever may see that stage's environments may see them.
func EventStage(e *strata.Event) string {
	var d struct {
		Stage string `json:"stage"`
	}
	if len(e.Detail) == 0 || json.Unmarshal(e.Detail, &d) != nil {
		return ""
	}
	return d.Stage
}

// VerifyStore verifies the whole audit log of s (see Verify).
func VerifyStore(ctx context.Context, s strata.Store) (*Verification, error) {
	r, err := strata.VerifyChain(scanEvents(ctx, s))
	if err != nil && strata.ErrorCode(err) != strata.EFAILED {
		return nil, err // the log could not be read: there is no verdict
	}
	return verification(r), err // a broken chain is its document and EFAILED
}

// scanEvents streams the whole audit log, oldest first, one event at a time: verifying
// the chain holds one event in memory, not the log.
func scanEvents(ctx context.Context, s strata.Store) iter.Seq2[*strata.Event, error] {
	return func(yield func(*strata.Event, error) bool) {
		err := s.ScanEvents(ctx, strata.EventFilter{}, false, func(e *strata.Event) error {
			if !yield(e, nil) {
				return strata.ErrStopScan
			}
			return nil
		})
		if err != nil {
			yield(nil, err)
		}
	}
}

// NewLogs returns a deployment's state and its output after the chunk numbered after.
func NewLogs(ctx context.Context, s strata.Store, id string, after int64) (*Logs, error) {
	d, err := s.Deployment(ctx, id)
	if err != nil {
		return nil, err
	}
	chunks, err := s.Logs(ctx, id, after)
	if err != nil {
		return nil, err
	}
	if chunks == nil {
		chunks = []strata.LogChunk{}
	}
	return &Logs{ID: d.ID, State: d.State, Chunks: chunks}, nil
}
