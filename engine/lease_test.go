package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// leaseEstate's health check runs until the test writes the scratch file "go", and says it
// started by writing "checking".
const leaseEstate = `project: lease
environments:
  prod: {}
services:
  api:
    deploy: "true"
    health: {command: 'echo started > "@SCRATCH@/checking"; while [ ! -e "@SCRATCH@/go" ]; do sleep 0.05; done', timeout: 2m}
`

// TestTheLeaseIsRenewedWhileTheHealthCheckRuns: while the health check is held, the lease
// the store holds moves on. The test waits on what the store says, not on a sleep that a
// busy machine outlasts.
func TestTheLeaseIsRenewedWhileTheHealthCheckRuns(t *testing.T) {
	w := newWorld(t, leaseEstate)
	e := w.engine()
	e.LeaseTTL = 3 * time.Second // renewed every second
	if _, err := e.Release(t.Context(), "api", "1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() { w.write("go", "") })
	go func() {
		_, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "1", Env: "prod"})
		done <- err
	}()
	lease := func() time.Time {
		t.Helper()
		ds, err := w.store.Deployments(t.Context(), strata.DeploymentFilter{Environment: "prod"})
		if err != nil || len(ds) != 1 || ds[0].State != strata.Running {
			t.Fatalf("during the health check: deployments = %v, %v; want one, running", ds, err)
		}
		return ds[0].LeaseUntil
	}
	waitUntil(t, "the health check to start", func() bool { return w.read("checking") != "" || len(done) > 0 })
	if len(done) > 0 {
		t.Fatalf("the deployment ended before its health check was let go: %v", <-done)
	}
	first := lease()
	waitUntil(t, "the lease to be renewed during the health check", func() bool { return lease().After(first) })
	w.write("go", "")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestAWorkerWhoseRenewalHangsFencesItself: a renewal that never returns (a link that drops
// every packet) does not hold the worker past its fencing point: its work is cancelled, with
// ErrLeaseLost, while the renewal still hangs.
func TestAWorkerWhoseRenewalHangsFencesItself(t *testing.T) {
	e := engine.New(&strata.Project{Name: "lease"}, nil, "tester")
	e.LeaseTTL = 600 * time.Millisecond
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	hung := make(chan struct{})
	release := make(chan struct{})
	var returned atomic.Bool
	stop := e.KeepLease(ctx, time.Now().Add(e.LeaseTTL), cancel, func(time.Time) error {
		select {
		case hung <- struct{}{}:
		default:
		}
		<-release
		returned.Store(true)
		return nil
	})
	defer stop()
	defer close(release) // before stop, which waits for the renewal under way
	<-hung               // the first renewal is under way, and will not return
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, engine.ErrLeaseLost) {
		t.Fatalf("the work was cancelled with %v, want ErrLeaseLost", cause)
	}
	if returned.Load() {
		t.Fatal("the renewal returned before the worker fenced itself")
	}
}
