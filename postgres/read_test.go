package postgres_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// A store's first run of a read goes unprepared (text parameters and results) and later
// ones prepared (binary): both must read every kind of column the same.
func TestAReadReadsTheSameUnpreparedAndPrepared(t *testing.T) {
	_, u := migrated(t)
	w := open(t, u)
	ctx := t.Context()
	r := &strata.Release{Service: "api", Version: "1.2.0", Digest: "sha256:abc", CreatedBy: "ann"}
	if err := w.CreateRelease(ctx, r, &strata.Event{Actor: "ann", Action: "release", Detail: json.RawMessage(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	d := &strata.Deployment{Service: "api", Environment: "prod", Version: "1.2.0", ReleaseID: r.ID, State: strata.Running,
		Attempt: 2, Config: map[string]any{"replicas": 3.0, "name": "é"}, Outputs: map[string]string{"url": "https://x"},
		Owner: strata.Owner{Host: "h", PID: 7, Start: 9}, LeaseUntil: time.Now().Add(time.Hour),
		StartedAt: time.Now()}
	if err := w.CreateDeployment(ctx, d, &strata.Event{Actor: "ann", Action: "deploy", Service: "api", Environment: "prod"}); err != nil {
		t.Fatal(err)
	}
	p := &strata.Promotion{Service: "api", Version: "1.2.0", Stage: "prod", State: strata.Waiting, Requester: "ann"}
	if err := w.CreatePromotion(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Approve(ctx, p.ID, strata.Approval{Principal: "bob", At: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}

	db := open(t, u) // a new store, which has run no read yet
	reads := []struct {
		name string
		read func() (any, error)
	}{
		{"a release", func() (any, error) { return db.Release(ctx, "api", "1.2.0") }},
		{"a deployment", func() (any, error) { return db.Deployment(ctx, d.ID) }},
		{"deployments of a pair", func() (any, error) {
			return db.Deployments(ctx, strata.DeploymentFilter{Service: "api", Environment: "prod"})
		}},
		{"a promotion with its approvals", func() (any, error) { return db.Promotion(ctx, p.ID) }},
		{"the audit log", func() (any, error) { return db.Events(ctx, strata.EventFilter{Service: "api"}) }},
	}
	for _, rd := range reads {
		t.Run(rd.name, func(t *testing.T) {
			first, err := rd.read()
			if err != nil {
				t.Fatalf("first read: %v", err)
			}
			again, err := rd.read()
			if err != nil {
				t.Fatalf("second read: %v", err)
			}
			if !reflect.DeepEqual(first, again) {
				t.Errorf("unprepared %+v\nprepared   %+v", first, again)
			}
		})
	}
	got, err := db.Deployment(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Config["name"] != "é" || got.Outputs["url"] != "https://x" || got.Owner.PID != 7 || got.LeaseUntil.IsZero() {
		t.Errorf("deployment read = %+v, want what was written", got)
	}
	gp, err := db.Promotion(ctx, p.ID)
	if err != nil || len(gp.Approvals) != 1 || gp.Approvals[0].Principal != "bob" {
		t.Errorf("promotion read = %+v, %v; want bob's approval", gp, err)
	}
}
