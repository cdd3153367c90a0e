package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/strata-dev/strata/bench/harness"
)

// The benchmark end to end on a small estate: both stores, every promotion checked to list
// its deployments, the PostgreSQL promotions counted once more through the proxy, and no
// schema left behind.
func TestAPromotionOnEachStoreIsMeasuredComparedAndCounted(t *testing.T) {
	if os.Getenv("STRATA_TEST_POSTGRES") == "off" {
		t.Skip("STRATA_TEST_POSTGRES=off: the PostgreSQL side cannot run")
	}
	server := defaultServer()
	before := benchSchemas(t, server)
	var out bytes.Buffer
	res, err := run(options{Flags: harness.Flags{Envs: 3, Parallel: 2, Runs: 1, Work: t.TempDir()}, postgres: server, count: true}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Cases), 2; got != want {
		t.Fatalf("cases = %d, want %d", got, want)
	}
	for _, c := range res.Cases {
		if len(c.first) != 1 || len(c.again) != 1 || c.first[0].Wall <= 0 || c.again[0].Wall <= 0 {
			t.Errorf("%s: samples %v / %v, want one of each", c.name, c.first, c.again)
		}
	}
	if !strings.Contains(out.String(), "postgres/sqlite: ") {
		t.Errorf("the output has no ratio of the stores:\n%s", out.String())
	}
	for i, k := range res.Cases[1].counted {
		// At least: the startup, reading the estate's state, a claim, its outcome.
		if k.trips < 4 || k.conns < 1 {
			t.Errorf("promotion %d through the counter: %d round trips on %d connection(s), want 4 or more on 1 or more", i+1, k.trips, k.conns)
		}
	}
	if res.Cases[0].counted != [2]cost{} {
		t.Errorf("SQLite's promotions were counted: %v, want nothing", res.Cases[0].counted)
	}
	if !strings.Contains(out.String(), "counted postgres, fresh: ") {
		t.Errorf("the output has no counts:\n%s", out.String())
	}
	if got := benchSchemas(t, server); got != before {
		t.Errorf("bench schemas after = %d, want %d as before (each run drops its own)", got, before)
	}
}

// benchSchemas counts the schemas the benchmark makes.
func benchSchemas(t *testing.T, server string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'strata_bench_%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
