package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The counter counts a statement sent alone as one round trip, and a batch of several as one.
func TestTheCounterCountsEachExchangeWithTheServerOnce(t *testing.T) {
	if os.Getenv("STRATA_TEST_POSTGRES") == "off" {
		t.Skip("STRATA_TEST_POSTGRES=off: no server to count")
	}
	cnt, err := newCounter(defaultServer())
	if err != nil {
		t.Fatal(err)
	}
	defer cnt.close()
	u, err := cnt.through(defaultServer())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing prepared: a statement is one exchange, however often it is sent.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	connected := cnt.trips.Load()
	for range 3 {
		if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	var b pgx.Batch
	for range 5 {
		b.Queue("SELECT 1")
	}
	if err := c.SendBatch(ctx, &b).Close(); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	trips, conns, _ := cnt.counts()
	if got, want := trips-connected, int64(4); got != want {
		t.Errorf("round trips for three statements and a batch = %d, want %d", got, want)
	}
	if conns != 1 {
		t.Errorf("connections = %d, want 1", conns)
	}
}

// processCPU reads this process's own CPU time.
func TestProcessCPUReadsAProcessOwnTime(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
