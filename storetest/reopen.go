package storetest

import (
	"testing"

	"github.com/strata-dev/strata"
)

// Reopen checks that what one handle wrote, a handle opened later on the same database
// reads as it was: records, configs with their number types, a claim still held, logs,
// events with their detail byte for byte and a chain that goes on where it stopped. Open
// returns a function that opens the same (at first empty) database each time it is called;
// Reopen closes what it opens.
func Reopen(t *testing.T, open func(t *testing.T) func() (strata.Store, error)) {
	ctx := ctx(t)
	again := open(t)
	db, err := again()
	if err != nil {
		t.Fatal(err)
	}
	r := &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}
	d := &strata.Deployment{Service: "api", Environment: "prod", Version: "1", State: strata.Running,
		Owner: strata.Owner{Host: "h", PID: 1, Start: 2}, Config: map[string]any{"PORT": int64(8080), "RATIO": 0.5}}
	for _, err := range []error{
		db.CreateRelease(ctx, r, &strata.Event{Actor: "a", Action: "release", Detail: []byte(`{"b": 1,  "a": [2]}`)}),
		db.CreateDeployment(ctx, d, &strata.Event{Actor: "a", Action: "deploy"}),
		db.AppendLog(ctx, d.ID, strata.LogChunk{Step: "deploy", Data: "hello"}),
	} {
		must(t, err)
	}
	must(t, db.Close())

	db, err = again()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if got, err := db.Release(ctx, "api", "1"); err != nil || got.ID != r.ID {
		t.Errorf("release after reopening = %+v, %v; want %s", got, err, r.ID)
	}
	got, err := db.Deployment(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Config["PORT"] != int64(8080) || got.Config["RATIO"] != 0.5 {
		t.Errorf("config = %#v, want PORT int64 8080 and RATIO 0.5", got.Config)
	}
	err = db.CreateDeployment(ctx, &strata.Deployment{Service: "api", Environment: "prod", State: strata.Pending}, nil)
	wantCode(t, err, strata.EBLOCKED)
	logs, err := db.Logs(ctx, d.ID, 0)
	if err != nil || len(logs) != 1 || logs[0].Data != "hello" {
		t.Errorf("logs = %+v, %v; want hello", logs, err)
	}
	evs, err := db.Events(ctx, strata.EventFilter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("events = %+v, %v; want 2", evs, err)
	}
	if got, want := string(evs[0].Detail), `{"b": 1,  "a": [2]}`; got != want || evs[0].ComputeHash("") != evs[0].Hash {
		t.Errorf("the first event's detail is %q, want %q, and its hash unchanged", got, want)
	}
	e := &strata.Event{Actor: "a", Action: "more"}
	must(t, db.AppendEvent(ctx, e))
	if e.Seq != 3 || e.Prev != evs[1].Hash {
		t.Errorf("event after reopening has seq %d and prev %q, want 3 and %q", e.Seq, e.Prev, evs[1].Hash)
	}
}
