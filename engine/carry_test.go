package engine_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// carryEstate's stage deploys five environments; a worker records each success with the
// claim of its next deployment.
const carryEstate = `project: carry
environments:
  e1: {}
  e2: {}
  e3: {}
  e4: {}
  e5: {}
services:
  api:
    deploy: echo "$STRATA_ENV" >> "@SCRATCH@/order"
pipeline:
  - stage: all
    environments: [e1, e2, e3, e4, e5]
`

func TestEveryDeploymentOfAWaveIsRecordedWhateverTheParallelism(t *testing.T) {
	for _, parallel := range []int{1, 2, 5, 8} {
		t.Run(fmt.Sprintf("parallel %d", parallel), func(t *testing.T) {
			w := newWorld(t, carryEstate)
			e := w.engine()
			e.Parallel = parallel
			if _, err := e.Release(t.Context(), "api", "1"); err != nil {
				t.Fatal(err)
			}
			res, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api", Version: "1", To: "all"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Promotion.State != strata.Succeeded || len(res.Deployments) != 5 {
				t.Fatalf("promotion %s with %d deployments, want succeeded with 5", res.Promotion.State, len(res.Deployments))
			}
			ds, err := w.store.Deployments(t.Context(), strata.DeploymentFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.State != strata.Succeeded || d.Owner != (strata.Owner{}) || d.FinishedAt.IsZero() {
					t.Errorf("%s in %s is stored %s (owner %+v): every deployment must be recorded as ended", d.ID, d.Environment, d.State, d.Owner)
				}
			}
			evs, err := w.store.Events(t.Context(), strata.EventFilter{Action: "deployment.succeeded"})
			if err != nil || len(evs) != 5 {
				t.Fatalf("%d deployment.succeeded events (%v), want 5", len(evs), err)
			}
		})
	}
}

func TestAWorkersLastSuccessIsRecordedWhenItsNextClaimIsRefused(t *testing.T) {
	w := newWorld(t, carryEstate)
	e := w.engine()
	e.Parallel = 1
	if _, err := e.Release(t.Context(), "api", "1"); err != nil {
		t.Fatal(err)
	}
	// e2 is held by a deployment whose process is gone: its claim is refused at once.
	dead := &strata.Deployment{Service: "api", Environment: "e2", Version: "0", State: strata.Running, Attempt: 1,
		Owner: strata.Owner{Host: e.Owner.Host, PID: 1 << 22, Start: 1}}
	if err := w.store.CreateDeployment(t.Context(), dead, nil); err != nil {
		t.Fatal(err)
	}
	_, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api", Version: "1", To: "all"})
	if err == nil || !strings.Contains(err.Error(), dead.ID) {
		t.Fatalf("promote: %v; want it to fail naming the interrupted %s", err, dead.ID)
	}
	ds, err := w.store.Deployments(t.Context(), strata.DeploymentFilter{Environment: "e1"})
	if err != nil || len(ds) != 1 || ds[0].State != strata.Succeeded {
		t.Fatalf("e1: %+v, %v; want its one deployment recorded as succeeded", ds, err)
	}
	order, _ := os.ReadFile(w.scratch + "/order")
	if got := strings.Fields(string(order)); len(got) == 0 || got[0] != "e1" {
		t.Fatalf("steps ran in %v; want e1 first", got)
	}
}

// handoverCounter counts the store's writes of deployments.
type handoverCounter struct {
	strata.Store
	mu                      sync.Mutex
	creates, updates, pairs int
}

func (s *handoverCounter) CreateDeployment(ctx context.Context, d *strata.Deployment, e *strata.Event) error {
	s.mu.Lock()
	s.creates++
	s.mu.Unlock()
	return s.Store.CreateDeployment(ctx, d, e)
}

func (s *handoverCounter) UpdateDeployment(ctx context.Context, d *strata.Deployment, e *strata.Event) error {
	s.mu.Lock()
	s.updates++
	s.mu.Unlock()
	return s.Store.UpdateDeployment(ctx, d, e)
}

func (s *handoverCounter) FinishAndCreate(ctx context.Context, done *strata.Deployment, doneEvent *strata.Event, next *strata.Deployment, nextEvent *strata.Event) error {
	s.mu.Lock()
	s.pairs++
	s.mu.Unlock()
	return s.Store.FinishAndCreate(ctx, done, doneEvent, next, nextEvent)
}

// The handover's whole point: one worker through five environments writes its first claim
// alone, each later claim with the outcome before it, and its last outcome alone.
func TestAWorkerRecordsEachSuccessWithItsNextClaim(t *testing.T) {
	w := newWorld(t, carryEstate)
	e := w.engine()
	e.Parallel = 1
	if _, err := e.Release(t.Context(), "api", "1"); err != nil {
		t.Fatal(err)
	}
	counter := &handoverCounter{Store: e.Store}
	e.Store = counter
	if _, err := e.Promote(t.Context(), engine.PromoteRequest{Service: "api", Version: "1", To: "all"}); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprintf("%d claims alone, %d outcomes alone, %d together", counter.creates, counter.updates, counter.pairs),
		"1 claims alone, 1 outcomes alone, 4 together"; got != want {
		t.Errorf("the worker wrote %s; want %s", got, want)
	}
}
