package engine_test

import (
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// leaseEstate's health check takes about a second, several leases long in the test.
const leaseEstate = `project: lease
environments:
  prod: {}
services:
  api:
    deploy: "true"
    health: {command: 'sleep 1', timeout: 5s}
`

func TestTheLeaseIsRenewedWhileTheHealthCheckRuns(t *testing.T) {
	w := newWorld(t, leaseEstate)
	e := w.engine()
	e.LeaseTTL = 300 * time.Millisecond
	if _, err := e.Release(t.Context(), "api", "1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "1", Env: "prod"})
		done <- err
	}()
	// Well into the health check, past the lease the deployment started with.
	time.Sleep(700 * time.Millisecond)
	ds, err := w.store.Deployments(t.Context(), strata.DeploymentFilter{Environment: "prod"})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deployments = %v, %v", ds, err)
	}
	if d := ds[0]; d.State != strata.Running || !d.LeaseUntil.After(time.Now()) {
		t.Errorf("during the health check the deployment is %s with its lease until %v (now %v): the lease lapsed", d.State, d.LeaseUntil, time.Now())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
