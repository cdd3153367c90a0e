package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/bench/harness"
)

func TestQuantilesOfSortedLatencies(t *testing.T) {
	p := &poll{lat: []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	for _, c := range []struct {
		name string
		q    float64
		want time.Duration
	}{{"the median is the middle one", 0.5, 6}, {"p99 of ten is the largest", 0.99, 10}, {"the maximum is the last", 1, 10}} {
		if got := p.quantile(c.q); got != c.want {
			t.Errorf("%s: quantile(%v) = %v, want %v", c.name, c.q, got, c.want)
		}
	}
	if (&poll{}).quantile(0.5) != 0 {
		t.Error("no latencies should give 0")
	}
}

// TestRun runs the whole benchmark on a small estate: the real serve, a filled store,
// both polling phases and the churn, and checks the report says what it measured.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds strata and runs serve")
	}
	dir := t.TempDir()
	bin, err := harness.BuildStrata(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := options{strata: bin, envs: 30, services: 2, clients: 3, duration: time.Second, baseline: 300 * time.Millisecond, churn: 100 * time.Millisecond, writers: 2, work: dir}
	if err := run(o, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"30 environments x 2 services", "baseline  GET /healthz", "measured  GET /api/v1/status", "peak RSS", "targets:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}
