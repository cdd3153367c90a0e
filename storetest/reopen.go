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

// TakeTurns checks that two handles on one database (two processes) that take turns
// appending to the audit log each continue the chain where the other left it, whatever
// either remembers of its own last append, and that a change audited with a stale memory
// is written once. Open is as for Reopen.
func TakeTurns(t *testing.T, open func(t *testing.T) func() (strata.Store, error)) {
	ctx := ctx(t)
	again := open(t)
	var hs [2]strata.Store
	for i := range hs {
		s, err := again()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		hs[i] = s
	}
	var prev string
	for i := range 6 {
		s := hs[i%2]
		// Every third turn is a change with its event, the rest events alone.
		e := &strata.Event{Actor: "a", Action: "turn"}
		var err error
		if i%3 == 2 {
			err = s.CreateRelease(ctx, &strata.Release{Service: "api", Version: string(rune('a' + i))}, e)
		} else {
			err = s.AppendEvent(ctx, e)
		}
		must(t, err)
		if e.Seq != int64(i+1) || e.Prev != prev {
			t.Fatalf("turn %d: event seq %d with prev %q, want %d with %q", i, e.Seq, e.Prev, i+1, prev)
		}
		prev = e.Hash
	}
	rs, err := hs[0].Releases(ctx, "api")
	must(t, err)
	if len(rs) != 2 {
		t.Errorf("releases = %d, want the 2 made, each once", len(rs))
	}
}
