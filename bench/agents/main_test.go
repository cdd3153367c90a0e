package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/bench/harness"
)

// The benchmark end to end on a small estate, the binary measured against itself: every
// promotion checked to list its deployments, both binaries' medians printed.
func TestAPromotionOnAgentsIsMeasuredAgainstAnotherBinary(t *testing.T) {
	work := t.TempDir()
	bin, err := harness.BuildStrata(work)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := run(options{Flags: harness.Flags{Strata: bin, Envs: 3, Parallel: 1, Runs: 1, Work: filepath.Join(work, "runs")}, against: bin, agents: 1}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(res) != 2 {
		t.Fatalf("%d results, want 2 (the binary and the one it is measured against)", len(res))
	}
	for _, r := range res {
		if len(r.Agents) != 1 || len(r.Local) != 1 || r.Agents[0].Wall <= 0 || r.Local[0].Wall <= 0 {
			t.Errorf("%s: samples %v / %v, want one of each", r.Bin, r.Agents, r.Local)
		}
	}
	if got := strings.Count(out.String(), "median of "); got != 2 {
		t.Errorf("%d lines of medians, want 2:\n%s", got, out.String())
	}
}
