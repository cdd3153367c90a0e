package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/postgres"
)

// A batch of writers goes to the server as one round trip with its COMMIT. A writer whose
// statement changes no row (a refused claim here) must stop the batch before the commit:
// its work must not stand, every other writer's must, and the chain must stay whole.
func TestWritersWhoseClaimIsRefusedFailAloneInABatchThatCommitsAtOnce(t *testing.T) {
	_, u := migrated(t)
	db := open(t, u)
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Two writers claim each environment: one of each pair wins.
			d := &strata.Deployment{Service: "api", Environment: fmt.Sprint("env-", i/2), Version: "1", State: strata.Running,
				Owner: strata.Owner{Host: "h", PID: i + 1, Start: 1}, LeaseUntil: time.Now().Add(time.Hour)}
			errs[i] = db.CreateDeployment(t.Context(), d, &strata.Event{Actor: "ann", Action: "deploy"})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch strata.ErrorCode(err) {
		case "":
			won++
		case strata.EBLOCKED:
		default:
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if won != n/2 {
		t.Fatalf("%d writers won; want one of each pair, %d", won, n/2)
	}
	ds, err := db.Deployments(t.Context(), strata.DeploymentFilter{Service: "api"})
	if err != nil || len(ds) != n/2 {
		t.Fatalf("deployments = %d, %v; want %d", len(ds), err, n/2)
	}
	wantChain(t, db, n/2)
}

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

// wantChain fails t unless db's audit log holds n events in one unbroken chain.
func wantChain(t *testing.T, db *postgres.DB, n int) {
	t.Helper()
	events, err := db.Events(t.Context(), strata.EventFilter{})
	if err != nil || len(events) != n {
		t.Fatalf("events = %d, %v; want %d", len(events), err, n)
	}
	prev := ""
	for i, e := range events {
		if e.Seq != int64(i+1) || e.Prev != prev || e.ComputeHash(prev) != e.Hash {
			t.Fatalf("event %d (seq %d, %s) breaks the chain", i+1, e.Seq, e.Action)
		}
		prev = e.Hash
	}
}
