package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// lookupFailingStore fails the lookups of a pair's succeeded history (what the rollback
// policy reads), once armed.
type lookupFailingStore struct {
	strata.Store
	armed bool
}

func (s *lookupFailingStore) Deployments(ctx context.Context, f strata.DeploymentFilter) ([]*strata.Deployment, error) {
	if s.armed && f.Service != "" && f.Environment != "" && len(f.States) == 1 && f.States[0] == strata.Succeeded {
		return nil, errDiskOnFire
	}
	return s.Store.Deployments(ctx, f)
}

var errDiskOnFire = errors.New("disk on fire")

func TestAStoreErrorFindingTheLastGoodReleaseIsReportedNotTakenForNone(t *testing.T) {
	w := newWorld(t, rollbackEstate)
	e := w.engine()
	w.ship(e, "api", "1", "staging")
	s := &lookupFailingStore{Store: w.store}
	e.Store = s
	if _, err := e.Release(t.Context(), "api", "2"); err != nil {
		t.Fatal(err)
	}
	w.write("sick-2", "")
	s.armed = true
	d, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "2", Env: "staging"})
	if strata.ErrorCode(err) != strata.EFAILED || !strings.Contains(err.Error(), "not rolled back") || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("deploy: %v; want the failure, and that it was not rolled back because the store failed", err)
	}
	if !errors.Is(err, errDiskOnFire) {
		t.Errorf("the store's error is not in the chain of %v: its code and identity were lost", err)
	}
	if strings.Contains(err.Error(), "no earlier good release") {
		t.Errorf("a store error was reported as there being no earlier good release: %v", err)
	}
	if d == nil || d.State != strata.Failed {
		t.Errorf("the deployment is %+v, want it recorded as failed", d)
	}
	if _, err := e.Rollback(t.Context(), "api", "staging", "", ""); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("rollback without --to: %v; want the store's error", err)
	}
}
