package engine_test

import (
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
