package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/report"
)

// followEvery is how often `strata run` over --server reads the run's output so far.
const followEvery = 250 * time.Millisecond

// followRun shows on stderr, while `strata run` waits on a server (which answers only when
// the run ends), the output so far of the run it asked for, as a CLI on the store shows an
// agent's run (engine.RunOutputShown). The answer names the run only at the end, so the
// run is found as the one of req's task in req's environment that runs and was not there
// before the request; when that is not exactly one run (another of the same task started
// at the same moment), nothing is shown rather than another's output, and the answer still
// holds the whole output. The returned stop ends the following and shows what the answer
// adds (doc, nil when there is none).
func (a *app) followRun(ctx context.Context, req report.RunRequest) (stop func(doc *strata.TaskRun)) {
	list := func(ctx context.Context) ([]*strata.TaskRun, error) {
		return strhttp.Run(ctx, a.client, command.Runs, report.RunsRequest{Env: req.Env, Service: req.Service, Kind: strata.TaskRunbook, Limit: 50})
	}
	before := map[string]bool{}
	rs, err := list(ctx)
	if err != nil {
		// A token that may run but not read runs, or a server without the route: the
		// answer at the end is all there is.
		return func(*strata.TaskRun) {}
	}
	for _, r := range rs {
		before[r.ID] = true
	}
	return a.followOutput(ctx, func(ctx context.Context) *strata.TaskRun {
		rs, err := list(ctx)
		if err != nil {
			return nil
		}
		var found []*strata.TaskRun
		for _, r := range rs {
			if r.Task == req.Task && r.State == strata.RunRunning && !before[r.ID] {
				found = append(found, r)
			}
		}
		if len(found) != 1 {
			return nil
		}
		return found[0]
	})
}

// followApproved is followRun for `strata approve t-…`, which names the run: its output is
// shown once the approval made it run.
func (a *app) followApproved(ctx context.Context, id string) (stop func(doc *strata.TaskRun)) {
	return a.followOutput(ctx, func(ctx context.Context) *strata.TaskRun {
		r, err := strhttp.Run(ctx, a.client, command.ShowRun, report.RunIDRequest{ID: id})
		if err != nil || r.State != strata.RunRunning {
			return nil
		}
		return r
	})
}

// followOutput reads, every followEvery until stop, the run find returns (nil: none yet)
// and then that run's output so far, and shows it on stderr.
func (a *app) followOutput(ctx context.Context, find func(ctx context.Context) *strata.TaskRun) (stop func(doc *strata.TaskRun)) {
	var mu sync.Mutex // logf is called from the follower and from stop
	w := a.progress()
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format+"\n", args...)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var id string
	var shown *engine.RunOutputShown
	go func() {
		defer close(done)
		t := time.NewTicker(followEvery)
		defer t.Stop()
		for {
			select {
			case <-fctx.Done():
				return
			case <-t.C:
			}
			if id == "" {
				r := find(fctx)
				if r == nil {
					continue
				}
				id, shown = r.ID, engine.NewRunOutputShown(logf, r)
			}
			r, err := strhttp.Run(fctx, a.client, command.ShowRun, report.RunIDRequest{ID: id})
			if err != nil {
				continue
			}
			shown.Show(r.Output)
			if r.State != strata.RunRunning {
				return
			}
		}
	}()
	return func(doc *strata.TaskRun) {
		cancel()
		<-done
		if shown == nil {
			return
		}
		if doc != nil && doc.ID == id && !slices.Contains([]string{strata.RunRunning, strata.RunWaiting}, doc.State) {
			shown.Show(doc.Output)
		}
		shown.End()
	}
}
