package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/postgres"
)

// A store trusts the audit log's head it read when it opened; when another process has
// appended since, its next event (sent with its change and COMMIT at once) must still
// follow the true head, and nothing of the refused attempt may stand.
func TestHandlesOpenedTogetherKeepOneAuditChain(t *testing.T) {
	_, u := migrated(t)
	seed := open(t, u)
	if err := seed.AppendEvent(t.Context(), &strata.Event{Actor: "seed", Action: "note"}); err != nil {
		t.Fatal(err)
	}
	a, b := open(t, u), open(t, u) // both read the same head as they open
	for i, db := range []*postgres.DB{a, b, b, a, b, a, a} {
		d := &strata.Deployment{Service: "api", Environment: fmt.Sprint("env-", i), Version: "1", State: strata.Succeeded}
		if err := db.CreateDeployment(t.Context(), d, &strata.Event{Actor: fmt.Sprint("writer-", i), Action: "deploy"}); err != nil {
			t.Fatalf("deployment %d: %v", i+1, err)
		}
	}
	p := &strata.Promotion{Service: "api", Version: "1", Stage: "prod", State: strata.Running, Requester: "ann",
		Owner: strata.Owner{Host: "h", PID: 1, Start: 1}, LeaseUntil: time.Now().Add(time.Hour)}
	if err := b.CreatePromotion(t.Context(), p, &strata.Event{Actor: "ann", Action: "promote"}); err != nil {
		t.Fatal(err)
	}
	p.State = strata.Succeeded
	if err := a.UpdatePromotion(t.Context(), p, &strata.Event{Actor: "ann", Action: "promotion.succeeded"}); err != nil {
		t.Fatal(err)
	}
	ds, err := a.Deployments(t.Context(), strata.DeploymentFilter{})
	if err != nil || len(ds) != 7 {
		t.Fatalf("deployments = %d, %v; want 7", len(ds), err)
	}
	wantChain(t, a, 10)
}

// wantChain fails t unless db's audit log holds n events in one unbroken chain, as
// `audit --verify` judges it.
func wantChain(t *testing.T, db *postgres.DB, n int) {
	t.Helper()
	evs, err := db.Events(t.Context(), strata.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := strata.VerifyChain(func(yield func(*strata.Event, error) bool) {
		for _, e := range evs {
			if !yield(e, nil) {
				return
			}
		}
	})
	if err != nil || !r.OK() || r.Events != n {
		t.Fatalf("chain of %d events, broken at %d (%s), %v; want %d unbroken", r.Events, r.BrokenAt, r.Reason, err, n)
	}
}
