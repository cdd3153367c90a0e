package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/bench/harness"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/plan"
)

func TestEstate(t *testing.T) {
	tests := []struct {
		name        string
		envs, waves int
		wantWaves   int
	}{
		{"200 environments deploy in one wave", 200, 0, 1},
		{"500 environments in waves of 25 make 20 waves", 500, 25, 20},
		{"a last wave may be short", 7, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := harness.WriteEstate(dir, tt.envs, tt.waves); err != nil {
				t.Fatal(err)
			}
			p, problems, err := config.Load(dir)
			if err != nil {
				t.Fatalf("load: %v\n%v", err, problems)
			}
			if got := len(p.Environments); got != tt.envs {
				t.Errorf("environments = %d, want %d", got, tt.envs)
			}
			st := p.Stage("all")
			if st == nil || st.Auto {
				t.Fatalf("stage all = %+v, want one manual stage", st)
			}
			if got := len(st.Environments); got != tt.envs {
				t.Errorf("stage all has %d environments, want %d", got, tt.envs)
			}
			if got := len(plan.Waves(st)); got != tt.wantWaves {
				t.Errorf("waves = %d, want %d", got, tt.wantWaves)
			}
			svc := p.Service("noop")
			if svc == nil || svc.Deploy == nil || svc.Deploy.Run != "true" || svc.Build != nil || svc.Health != nil {
				t.Errorf("service noop = %+v, want only deploy: true", svc)
			}
		})
	}
}

func TestCheckSucceeded(t *testing.T) {
	out := "promotion p-1: noop@1 to all: succeeded\n  waves: [env-000, env-001]\n  d-aa env-000: succeeded\n  d-bb env-001: succeeded\n"
	tests := []struct {
		name    string
		out     string
		n       int
		wantErr bool
	}{
		{"every deployment listed as succeeded passes", out, 2, false},
		{"the promotion's own line is not a deployment", out, 3, true},
		{"a failed deployment does not count", strings.Replace(out, "env-001: succeeded", "env-001: failed", 1), 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := harness.CheckSucceeded([]byte(tt.out), tt.n); (err != nil) != tt.wantErr {
				t.Errorf("harness.CheckSucceeded = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestRun builds strata and runs the benchmark on a small estate end to end.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds strata and runs real deployments")
	}
	work := t.TempDir()
	var out bytes.Buffer
	res, err := run(options{Flags: harness.Flags{Envs: 6, Parallel: 3, Runs: 2, Work: work}}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if len(res.First) != 2 || len(res.Again) != 2 || len(res.Xargs) != 2 {
		t.Errorf("result = %+v, want two samples of each", res)
	}
	for _, want := range []string{"run 2: strata ", "median: strata ", "ratio (wall): "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The second release runs in every environment of the estate.
	status, err := harness.StrataRun(filepath.Join(work, "strata"), filepath.Join(work, "run-1"), "status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cells []struct{ Environment, Version, State string }
	}
	if err := json.Unmarshal(status, &doc); err != nil {
		t.Fatalf("status: %v\n%s", err, status)
	}
	got := 0
	for _, c := range doc.Cells {
		if c.Version == "2" && c.State == "succeeded" {
			got++
		}
	}
	if got != 6 {
		t.Errorf("status shows noop@2 succeeded in %d environment(s), want 6:\n%s", got, status)
	}
}
