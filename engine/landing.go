package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/strata-dev/strata"
)

// A release lands in the pipeline's auto stages by itself: `release` promotes it into the
// first when that stage is auto, and a promotion that succeeds promotes it into the next
// stage when that one is auto. Each of those is a second commit after the one that made it
// due (the release, the promotion's success), so a process that dies between the two would
// lose the landing for good: nothing else would ever promote that release there.
//
// Resume (and so every server's scheduler pass) therefore looks for landings that are due
// and were never made, and makes them. It leaves one alone while whoever made it due may
// still make it: that process is alive on this host, or, elsewhere, less than a lease has
// passed. A landing is due only for the newest release of a service to have been made or
// to have passed the stage before, and only when nothing of that service has been promoted
// into the auto stage since, so a recovered landing never replaces a newer release. Only
// the last day is searched: an auto stage added to strata.yaml later does not promote an
// old release by itself.

// landingLookback is how far back lost landings are searched for.
const landingLookback = 24 * time.Hour

// landingScan bounds how many recent releases or successes are read per stage and pass.
const landingScan = 50

// lostLanding is a promotion into an auto stage that was due and never made.
type lostLanding struct {
	service, version, stage string
}

// landLost makes the lost landings (see above) and returns what they ran.
func (e *Engine) landLost(ctx context.Context) ([]*PromotionResult, error) {
	lost, err := e.lostLandings(ctx)
	if err != nil {
		return nil, err
	}
	var out []*PromotionResult
	var errs []error
	for _, l := range lost {
		e.logf("%s@%s was due in the auto stage %s and never promoted there (the process that made it due stopped): promoting it now", l.service, l.version, l.stage)
		res, err := e.Promote(ctx, PromoteRequest{Service: l.service, Version: l.version, To: l.stage, Auto: true})
		if res != nil {
			out = append(out, res.Chain()...)
		}
		switch code := strata.ErrorCode(err); {
		case err == nil, code == strata.EBLOCKED, code == strata.ECONFLICT:
			// Waiting on its gates, or someone else made it meanwhile: it is made.
		case strata.IsTerminal(err):
			// No later pass can make it either: say so once, in the audit log, and stop.
			errs = append(errs, e.abandonLanding(ctx, l, err))
		default:
			errs = append(errs, fmt.Errorf("land %s@%s in %s: %w", l.service, l.version, l.stage, err))
		}
	}
	return out, errors.Join(errs...)
}

// abandonedLanding is the audit action that records a lost landing which failed for good
// (strata.IsTerminal: a damaged bundle, a release or stage that is gone): resume does not
// try it again, and the event says what to do instead.
const abandonedLanding = "landing.abandoned"

// abandonLanding records that l failed for good and returns that failure, final, for the
// caller to report once.
func (e *Engine) abandonLanding(ctx context.Context, l lostLanding, cause error) error {
	ev := e.event(abandonedLanding, l.service, "", "", map[string]any{"version": l.version, "stage": l.stage, "error": cause.Error()})
	if err := e.Store.AppendEvent(ctx, ev); err != nil {
		// Not recorded: the next pass tries it again, which is all that is lost.
		return fmt.Errorf("land %s@%s in %s: %w (and recording that it was given up failed: %w)", l.service, l.version, l.stage, cause, err)
	}
	e.logf("%s@%s cannot be promoted into the auto stage %s, and will not be tried again: %v; promote it by hand (`strata promote %s@%s --to %s`) once that is mended",
		l.service, l.version, l.stage, cause, l.service, l.version, l.stage)
	return strata.Terminal(fmt.Errorf("land %s@%s in %s (given up, recorded as %s): %w", l.service, l.version, l.stage, abandonedLanding, cause))
}

// lostLandings finds the landings that are due and were never made.
func (e *Engine) lostLandings(ctx context.Context) ([]lostLanding, error) {
	now := e.now()
	since := now.Add(-landingLookback)
	grace := max(e.LeaseTTL, time.Minute)
	var out []lostLanding
	for i, st := range e.Project.Pipeline {
		if !st.Auto {
			continue
		}
		due, err := e.dueLandings(ctx, i, since, now.Add(-grace))
		if err != nil {
			return nil, err
		}
		for _, d := range due {
			made, err := e.landedSince(ctx, d, st.Name)
			if err != nil {
				return nil, err
			}
			if !made {
				if made, err = e.landingAbandoned(ctx, d, st.Name); err != nil {
					return nil, err
				}
			}
			if !made {
				out = append(out, lostLanding{service: d.service, version: d.version, stage: st.Name})
			}
		}
	}
	return out, nil
}

// dueLanding is the newest release of a service that should have landed in a stage, and
// since when.
type dueLanding struct {
	service, version string
	at               time.Time
}

// dueLandings returns, per service, the newest release made due in stage i since since:
// for the first stage, the newest release made; for a later one, the newest release that
// passed stage i-1. Those made due after settled (whose maker may still be at work) and
// those whose maker is alive are left out.
func (e *Engine) dueLandings(ctx context.Context, i int, since, settled time.Time) ([]dueLanding, error) {
	seen := map[string]bool{}
	var out []dueLanding
	if i == 0 {
		evs, err := e.Store.Events(ctx, strata.EventFilter{Action: "release", Limit: landingScan})
		if err != nil {
			return nil, fmt.Errorf("find recent releases: %w", err)
		}
		for j := len(evs) - 1; j >= 0; j-- { // newest first
			ev := evs[j]
			var d struct {
				Version string `json:"version"`
			}
			if seen[ev.Service] || ev.At.Before(since) || json.Unmarshal(ev.Detail, &d) != nil || d.Version == "" {
				continue
			}
			seen[ev.Service] = true
			if ev.At.Before(settled) && e.Project.Service(ev.Service) != nil {
				out = append(out, dueLanding{service: ev.Service, version: d.Version, at: ev.At})
			}
		}
		return out, nil
	}
	ps, err := e.Store.Promotions(ctx, strata.PromotionFilter{Stage: e.Project.Pipeline[i-1].Name, States: []string{strata.Succeeded}, Limit: landingScan})
	if err != nil {
		return nil, fmt.Errorf("find recent promotions to %s: %w", e.Project.Pipeline[i-1].Name, err)
	}
	for _, p := range ps { // newest first
		if seen[p.Service] || p.UpdatedAt.Before(since) {
			continue
		}
		seen[p.Service] = true
		if p.UpdatedAt.Before(settled) && !e.alive(p.Owner, p.LeaseUntil) && e.Project.Service(p.Service) != nil {
			out = append(out, dueLanding{service: p.Service, version: p.Version, at: p.UpdatedAt})
		}
	}
	return out, nil
}

// landedSince reports whether d's release was promoted into stage, or anything of its
// service was after d became due.
func (e *Engine) landedSince(ctx context.Context, d dueLanding, stage string) (bool, error) {
	ps, err := e.Store.Promotions(ctx, strata.PromotionFilter{Service: d.service, Stage: stage, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("find promotions of %s to %s: %w", d.service, stage, err)
	}
	if len(ps) > 0 && !ps[0].CreatedAt.Before(d.at) {
		return true, nil
	}
	mine, err := e.Store.Promotions(ctx, strata.PromotionFilter{Service: d.service, Version: d.version, Stage: stage, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("find promotions of %s@%s to %s: %w", d.service, d.version, stage, err)
	}
	return len(mine) > 0, nil
}

// landingAbandoned reports whether d's landing in stage was given up (abandonLanding) since
// it became due.
func (e *Engine) landingAbandoned(ctx context.Context, d dueLanding, stage string) (bool, error) {
	evs, err := e.Store.Events(ctx, strata.EventFilter{Service: d.service, Action: abandonedLanding, Limit: landingScan})
	if err != nil {
		return false, fmt.Errorf("find abandoned landings of %s: %w", d.service, err)
	}
	for _, ev := range evs {
		var det struct{ Version, Stage string }
		if ev.At.Before(d.at) || json.Unmarshal(ev.Detail, &det) != nil {
			continue
		}
		if det.Version == d.version && det.Stage == stage {
			return true, nil
		}
	}
	return false, nil
}
