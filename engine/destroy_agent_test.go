package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// TestADestroyAnAgentRanMeanwhileIsNotRunAgain: when a destroy step of a pool's environment
// was queued by a process that stopped waiting (a scheduler pass bounds its wait) and an
// agent ran it in between, the next destroy counts it as done instead of queueing it again.
func TestADestroyAnAgentRanMeanwhileIsNotRunAgain(t *testing.T) {
	w := newWorld(t, `project: shop
environments:
  edge: {runs_on: eu}
services:
  app:
    deploy: "true"
    destroy: "true"
`)
	e := w.engine()
	ctx := t.Context()
	if _, err := e.Release(ctx, "app", "1"); err != nil {
		t.Fatal(err)
	}
	rel, err := w.store.Release(ctx, "app", "1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	d := &strata.Deployment{Service: "app", Environment: "edge", Version: "1", ReleaseID: rel.ID, State: strata.Succeeded, Attempt: 1,
		Pool: "eu", CreatedAt: at, StartedAt: at, FinishedAt: at}
	if err := w.store.CreateDeployment(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	// The destroy step an agent ran after the deployment, its asker gone.
	r := &strata.TaskRun{Service: "app", Environment: "edge", Task: strata.TaskDestroy, Kind: strata.TaskDestroy, State: strata.RunRunning,
		Requester: "scheduler", Owner: e.Owner, LeaseUntil: at.Add(2 * time.Minute), CreatedAt: at.Add(time.Minute), StartedAt: at.Add(time.Minute)}
	if err := w.store.CreateTaskRun(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	r.State, r.FinishedAt = strata.RunSucceeded, at.Add(90*time.Second)
	if err := w.store.UpdateTaskRun(ctx, r, nil); err != nil {
		t.Fatal(err)
	}

	cctx, cancel := context.WithTimeout(ctx, time.Minute) // a bound for a hung build, not a measure
	defer cancel()
	done, err := e.Destroy(cctx, "edge")
	if err != nil || len(done) != 1 || done[0] != "app" {
		t.Fatalf("destroy: %v, %v; want app destroyed without waiting for an agent", done, err)
	}
	runs, err := w.store.TaskRuns(ctx, strata.TaskRunFilter{Environment: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Errorf("%d destroy runs of edge, want the one the agent ran: %+v", len(runs), runs)
	}
}
