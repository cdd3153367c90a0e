package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
	"github.com/strata-dev/strata/sqlite"
)

// TestStatusShowsTheHealthChecksRunAfterTheDeployment: a cell's health is the newest check
// of what runs there when one was made, else the deployment's own, else unknown; a check
// of an earlier deployment says nothing of the one that runs now.
func TestStatusShowsTheHealthChecksRunAfterTheDeployment(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(statusEstate), 0o644))
	store, err := sqlite.Open(filepath.Join(dir, ".strata", "state.db"), nil)
	must(t, err)
	t.Cleanup(func() { store.Close() })
	p, _, err := config.Load(dir)
	must(t, err)
	e := engine.New(p, store, "tester")
	ctx := t.Context()
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

	deploy := func(svc, env, version, health string, at time.Duration) *strata.Deployment {
		t.Helper()
		d := &strata.Deployment{Service: svc, Environment: env, Version: version, State: strata.Succeeded, Health: health,
			Kind: "deploy", CreatedAt: t0.Add(at), StartedAt: t0.Add(at), FinishedAt: t0.Add(at + time.Minute)}
		must(t, store.CreateDeployment(ctx, d, nil))
		return d
	}
	checked := func(d *strata.Deployment, health, detail string, at time.Duration) {
		t.Helper()
		c := &strata.HealthCheck{Service: d.Service, Environment: d.Environment, Deployment: d.ID, Health: health, Detail: detail, CheckedAt: t0.Add(at)}
		_, err := e.RecordHealth(ctx, c, d.Version)
		must(t, err)
	}
	detail := `GET http://127.0.0.1:17101/healthz: body does not contain "v2" (it begins "ok api v1 (dev)")`
	checked(deploy("api", "dev", "2", strata.Healthy, 0), strata.Unhealthy, detail, 10*time.Minute)
	checked(deploy("db", "dev", "1", strata.Healthy, 0), strata.Healthy, "", 10*time.Minute)
	stg := deploy("api", "stg", "1", strata.Healthy, 0)
	checked(stg, strata.Unhealthy, "connection refused", 10*time.Minute)
	deploy("api", "stg", "2", strata.Healthy, 20*time.Minute) // runs now; nothing checked it since
	deploy("db", "stg", "1", "", 0)                           // no health check

	doc, err := report.NewStatus(ctx, e)
	must(t, err)
	cells := map[string]report.Cell{}
	for _, c := range doc.Cells {
		cells[c.Service+"/"+c.Environment] = c
	}
	cases := []struct {
		name, cell, health, detail string
		checkedAt                  bool
	}{
		{"a deployment whose check now fails is unhealthy, with what the check saw", "api/dev", strata.Unhealthy, detail, true},
		{"a deployment whose check still passes is healthy", "db/dev", strata.Healthy, "", true},
		{"a check of the deployment before says nothing of the one that runs now", "api/stg", strata.Healthy, "", false},
		{"a deployment without a check is unknown", "db/stg", strata.HealthUnknown, "", false},
		{"a pair where nothing runs is unknown", "api/prod", strata.HealthUnknown, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cells[c.cell]
			if got.Health != c.health || got.HealthDetail != c.detail || (got.HealthCheckedAt != nil) != c.checkedAt {
				t.Errorf("%s: health %q detail %q checked at %v, want %q %q (checked: %v)", c.cell, got.Health, got.HealthDetail, got.HealthCheckedAt, c.health, c.detail, c.checkedAt)
			}
		})
	}
	t.Run("the text marks the unhealthy cell", func(t *testing.T) {
		var b bytes.Buffer
		doc.WriteText(&b, t0.Add(time.Hour))
		var dev string
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(line, "dev ") {
				dev = line
			}
		}
		if !strings.Contains(dev, "2 59m0s (unhealthy)") || strings.Count(b.String(), "unhealthy") != 1 {
			t.Errorf("the dev row should mark api's 2 unhealthy and nothing else:\n%s", b.String())
		}
	})
}
