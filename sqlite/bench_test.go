package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/sqlite"
)

// BenchmarkDeploymentLifecycle measures what the engine does per deployment: claim, mark
// running, append output, finish (each audited but the log), from 8 goroutines at once.
func BenchmarkDeploymentLifecycle(b *testing.B) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "state.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := b.Context()
	var n atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			d := &strata.Deployment{Service: "api", Environment: fmt.Sprint("env-", i), Version: "1", State: strata.Pending,
				Owner: strata.Owner{Host: "h", PID: 1, Start: 1}, LeaseUntil: time.Now().Add(time.Minute),
				Config: map[string]any{"PORT": int64(8080), "LOG_LEVEL": "info"}}
			ev := func(a string) *strata.Event { return &strata.Event{Actor: "bench", Action: a} }
			if err := db.CreateDeployment(ctx, d, ev("deploy.pending")); err != nil {
				b.Fatal(err)
			}
			d.State, d.Attempt, d.StartedAt = strata.Running, 1, time.Now()
			if err := db.UpdateDeployment(ctx, d, ev("deploy.running")); err != nil {
				b.Fatal(err)
			}
			if err := db.AppendLog(ctx, d.ID, strata.LogChunk{Attempt: 1, Step: "deploy", Data: "deployed\n"}); err != nil {
				b.Fatal(err)
			}
			d.State, d.Health = strata.Succeeded, strata.Healthy
			if err := db.UpdateDeployment(ctx, d, ev("deploy.succeeded")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClaimAndFinish measures the two writes a deployment makes (its claim, then its
// outcome, each with its audit event), from 8 goroutines at once, into a store that holds a
// history of 2,000 deployments already: what a promotion's wave costs the store.
func BenchmarkClaimAndFinish(b *testing.B) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "state.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := b.Context()
	var n atomic.Int64
	deploy := func() error {
		i := n.Add(1)
		d := &strata.Deployment{Service: "api", Environment: fmt.Sprintf("env-%03d", i%200), Version: fmt.Sprint(i / 200), State: strata.Running,
			Kind: "promotion", PromotionID: fmt.Sprint("p-", i/200), Owner: strata.Owner{Host: "h", PID: 1, Start: 1},
			LeaseUntil: time.Now().Add(time.Minute), Config: map[string]any{"PORT": int64(8080), "LOG_LEVEL": "info"}}
		if err := db.CreateDeployment(ctx, d, &strata.Event{Actor: "bench", Action: "deploy", Detail: []byte(`{"version":"1"}`)}); err != nil {
			return err
		}
		d.State, d.Health, d.FinishedAt = strata.Succeeded, strata.Healthy, time.Now()
		return db.UpdateDeployment(ctx, d, &strata.Event{Actor: "bench", Action: "deployment.succeeded", Detail: []byte(`{"version":"1"}`)})
	}
	for range 2000 {
		if err := deploy(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.SetParallelism(4) // 8 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := deploy(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOpen measures opening an existing store, as every CLI command does.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	db.Close()
	for b.Loop() {
		db, err := sqlite.Open(path, nil)
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}
