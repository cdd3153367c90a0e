package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/sqlite"
)

func TestARunningPromotionFromASchemaFiveStoreIsOwnedByNoOneAndCanBeTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &strata.Promotion{Service: "api", Version: "1", Stage: "prod", State: strata.Running, Requester: "alice",
		Owner: strata.Owner{Host: "h", PID: 1, Start: 1}, LeaseUntil: time.Now().Add(time.Hour)}
	if err := db.CreatePromotion(t.Context(), p, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// As a binary before promotions had owners left it.
	downgrade(t, path, 5)

	db, err = sqlite.Open(path, nil)
	if err != nil {
		t.Fatalf("reopen a schema 5 store: %v", err)
	}
	defer db.Close()
	got, err := db.Promotion(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != strata.Running || got.Owner != (strata.Owner{}) || !got.LeaseUntil.IsZero() {
		t.Fatalf("after the migration: %s owned by %+v until %v; want running, owned by no one", got.State, got.Owner, got.LeaseUntil)
	}
	to := strata.Owner{Host: "h2", PID: 2, Start: 2}
	if err := db.TakeOverPromotion(t.Context(), p.ID, strata.Owner{}, to, time.Now().Add(time.Minute), nil); err != nil {
		t.Fatalf("take over the promotion no one owns: %v", err)
	}
}
