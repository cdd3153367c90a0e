package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/bench/harness"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/sqlite"
)

func TestEstateHasWaves(t *testing.T) {
	dir := t.TempDir()
	if err := harness.WriteEstate(dir, 500, 25); err != nil {
		t.Fatal(err)
	}
	p, problems, err := config.Load(dir)
	if err != nil {
		t.Fatalf("load: %v\n%v", err, problems)
	}
	waves := plan.Waves(p.Stage("all"))
	if len(waves) != 20 {
		t.Fatalf("waves = %d, want 20", len(waves))
	}
	for i, w := range waves {
		if len(w) != 25 {
			t.Errorf("wave %d has %d environments, want 25", i+1, len(w))
		}
	}
}

func TestStoreSize(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := storeSize(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 50 {
		r := &strata.Release{Service: "noop", Version: string(rune('a'+i%26)) + strings.Repeat("x", i), Digest: "sha256:" + strings.Repeat("0", 64), CreatedAt: time.Now()}
		if err := s.CreateRelease(ctx, r, &strata.Event{Actor: "test", Action: "release"}); err != nil {
			t.Fatal(err)
		}
	}
	// The store is still open: the checkpoint must work beside a live writer's connections.
	grown, err := storeSize(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if empty <= 0 || grown <= empty {
		t.Errorf("store size: empty %d, after 50 releases %d; want it to grow from more than zero", empty, grown)
	}
	if _, err := storeSize(filepath.Join(t.TempDir(), "missing", "state.db")); err == nil {
		t.Errorf("the size of a store in a missing directory is an error, got none")
	}
}

// TestRun builds strata and runs the benchmark on a small estate end to end.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds strata and runs real deployments")
	}
	var out bytes.Buffer
	res, err := run(options{Flags: harness.Flags{Envs: 10, Parallel: 2, Runs: 1, Work: t.TempDir()}, waves: 4}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if len(res.Strata) != 1 || len(res.Again) != 1 || len(res.Xargs) != 1 || len(res.XargsWaves) != 1 || len(res.Growth) != 1 {
		t.Fatalf("result = %+v, want one sample of each", res)
	}
	if res.Growth[0] <= 0 {
		t.Errorf("store growth per deployment = %v bytes, want more than zero", res.Growth[0])
	}
	for _, want := range []string{"10 environments in 3 wave(s) of 4", "orchestration per environment: ", "orchestration per environment, again: ", "store growth per deployment: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
