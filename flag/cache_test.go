package flag_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/flag"
	"github.com/strata-dev/strata/sqlite"
)

// storeSource is a flag.Source on a real SQLite store; running is what runs, as the test
// sets it (the engine's reading of the deployments is tested with the engine).
type storeSource struct {
	*sqlite.DB
	running map[string]string
	reads   int
}

func (s *storeSource) Running(context.Context, string) (map[string]string, error) {
	s.reads++
	return s.running, nil
}

func TestTheCacheSeesAChangeOnceItChecksAgainAndNotBefore(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	src := &storeSource{DB: db, running: map[string]string{"api": "1.0.0"}}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	c := &flag.Cache{Src: src, Now: func() time.Time { return now }, Check: 500 * time.Millisecond}
	env := &strata.Environment{Name: "prod"}
	p := &strata.Project{Environments: []*strata.Environment{env},
		Flags: []*strata.Flag{{Key: "f", Type: strata.FlagBoolean, Default: &strata.FlagValue{V: false}}}}
	value := func() any {
		t.Helper()
		s, err := c.Env(t.Context(), p, env)
		if err != nil {
			t.Fatal(err)
		}
		return flag.Evaluate(s.Flags["f"], nil, s.Running).Value
	}
	if got := value(); got != false {
		t.Fatalf("before any change f = %v", got)
	}
	if _, err := db.ChangeFlag(t.Context(), &strata.FlagChange{Environment: "prod", Flag: "f", Value: json.RawMessage(`true`)}, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(499 * time.Millisecond)
	if got := value(); got != false {
		t.Errorf("within the check interval f = %v, want the cached false", got)
	}
	reads := src.reads
	now = now.Add(time.Millisecond)
	if got := value(); got != true {
		t.Errorf("once the interval passed f = %v, want the changed true", got)
	}
	if src.reads != reads+1 {
		t.Errorf("the store was read %d times for one refresh", src.reads-reads)
	}
	if got := value(); got != true || src.reads != reads+1 {
		t.Errorf("a second evaluation read the store again (%d reads) or lost the change (%v)", src.reads-reads, got)
	}
	other := *p
	if s, _ := c.Env(t.Context(), &other, env); s.Project != &other {
		t.Errorf("a new project (a reload) was answered from the old one's snapshot")
	}
}
