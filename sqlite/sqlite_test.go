package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/sqlite"
	"github.com/strata-dev/strata/storetest"
)

// open opens the store at path, closed when t ends.
func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(path, storetest.Ticking())
	return storetest.Opened(t, db, err)
}

func TestContract(t *testing.T) {
	storetest.RunEveryWay(t, func(t *testing.T, now func() time.Time) (strata.Store, error) {
		return sqlite.Open(filepath.Join(t.TempDir(), "state.db"), now)
	})
}

func TestOpenCreatesTheDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", ".strata", "state.db")
	open(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("store file: %v", err)
	}
}

func TestOpenRefusesWhatIsNotAStrataStore(t *testing.T) {
	otherDB := func(t *testing.T, path string) {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('mine')`); err != nil {
			t.Fatal(err)
		}
	}
	newer := func(t *testing.T, path string) {
		db := open(t, path)
		db.Close()
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (?, 0)`, strata.SchemaVersion+1); err != nil {
			t.Fatal(err)
		}
		// Leave the file as a single file, as a closed store is.
		if _, err := raw.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		make    func(t *testing.T, path string)
		message string
	}{
		{"a text file is not a store", func(t *testing.T, path string) {
			write(t, path, "project: shop\nservices: {}\n")
		}, "is not a Strata store"},
		{"a short file is not a store", func(t *testing.T, path string) {
			write(t, path, "SQLite")
		}, "is not a Strata store"},
		{"another program's SQLite database is not a store", otherDB, "is not a Strata store"},
		{"a store from a newer Strata is refused", newer, fmt.Sprintf("was written by a newer Strata (schema %d, this binary reads up to %d); upgrade strata", strata.SchemaVersion+1, strata.SchemaVersion)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			tt.make(t, path)
			before := read(t, path)
			dir := files(t, filepath.Dir(path))
			_, err := sqlite.Open(path, nil)
			if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), path+" "+tt.message) {
				t.Fatalf("open = %v, want EINVALID %q", err, path+" "+tt.message)
			}
			if after := read(t, path); !bytes.Equal(before, after) {
				t.Fatalf("the refused file changed (%d bytes before, %d after)", len(before), len(after))
			}
			if after := files(t, filepath.Dir(path)); after != dir {
				t.Fatalf("the directory held %q before and %q after", dir, after)
			}
		})
	}
}

func TestOpenAcceptsAnEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	write(t, path, "")
	db := open(t, path)
	if err := db.AppendEvent(t.Context(), &strata.Event{Actor: "a", Action: "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	storetest.Reopen(t, func(t *testing.T) func() (strata.Store, error) {
		path := filepath.Join(t.TempDir(), "state.db")
		return func() (strata.Store, error) { return sqlite.Open(path, storetest.Ticking()) }
	})
}

func TestTwoProcessesTakingTurnsContinueOneAuditChain(t *testing.T) {
	storetest.TakeTurns(t, func(t *testing.T) func() (strata.Store, error) {
		path := filepath.Join(t.TempDir(), "state.db")
		return func() (strata.Store, error) { return sqlite.Open(path, storetest.Ticking()) }
	})
}

func TestTheAuditLogCannotBeEditedInTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := open(t, path)
	if err := db.AppendEvent(t.Context(), &strata.Event{Actor: "a", Action: "x"}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`UPDATE events SET actor = 'mallory'`, `DELETE FROM events`} {
		if _, err := raw.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
}

func TestTwoHandlesOnOneFileSeeEachOtherAndContend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	a, b := open(t, path), open(t, path)
	ctx := context.Background()

	r := &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}
	if err := a.CreateRelease(ctx, r, &strata.Event{Actor: "a", Action: "release"}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Release(ctx, "api", "1"); err != nil || got.ID != r.ID {
		t.Fatalf("the other handle reads %+v, %v; want %s", got, err, r.ID)
	}
	if err := b.CreateRelease(ctx, &strata.Release{Service: "api", Version: "1"}, nil); strata.ErrorCode(err) != strata.ECONFLICT {
		t.Fatalf("the other handle's duplicate release = %v, want ECONFLICT", err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 16 {
		db := []*sqlite.DB{a, b}[i%2]
		wg.Go(func() {
			err := db.CreateDeployment(ctx, &strata.Deployment{Service: "api", Environment: "prod", State: strata.Pending},
				&strata.Event{Actor: "w", Action: "deploy"})
			mu.Lock()
			defer mu.Unlock()
			switch strata.ErrorCode(err) {
			case "":
				won++
			case strata.EBLOCKED:
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d claims won across two handles, want 1", won)
	}
	evs, err := b.Events(ctx, strata.EventFilter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("events = %d, %v; want 2", len(evs), err)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// files lists a directory's names.
func files(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

func TestReopeningAnEndedDeploymentCannotTakeAHeldPair(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "state.db"))
	ctx := t.Context()
	me := strata.Owner{Host: "h", PID: 1, Start: 1}
	old := &strata.Deployment{Service: "api", Environment: "prod", State: strata.Running, Owner: me}
	if err := db.CreateDeployment(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	old.State = strata.Failed
	if err := db.UpdateDeployment(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	holder := &strata.Deployment{Service: "api", Environment: "prod", State: strata.Running, Owner: me}
	if err := db.CreateDeployment(ctx, holder, nil); err != nil {
		t.Fatal(err)
	}
	old.State = strata.Running
	err := db.UpdateDeployment(ctx, old, nil)
	if strata.ErrorCode(err) != strata.EBLOCKED || !strings.Contains(err.Error(), holder.ID) {
		t.Fatalf("reopening the ended deployment = %v, want EBLOCKED naming %s", err, holder.ID)
	}
}
