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
// history of 2,000 deployments already: "separate" as a lone deploy makes them, "paired" as
// a promotion's workers do, each outcome committed with the worker's next claim
// (FinishAndCreate).
func BenchmarkClaimAndFinish(b *testing.B) {
	for _, paired := range []bool{false, true} {
		name := "separate"
		if paired {
			name = "paired"
		}
		b.Run(name, func(b *testing.B) { benchmarkClaimAndFinish(b, paired) })
	}
}

func benchmarkClaimAndFinish(b *testing.B, paired bool) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "state.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := b.Context()
	var n atomic.Int64
	next := func() *strata.Deployment {
		i := n.Add(1)
		return &strata.Deployment{Service: "api", Environment: fmt.Sprintf("env-%03d", i%200), Version: fmt.Sprint(i / 200), State: strata.Running,
			Kind: "promotion", PromotionID: fmt.Sprint("p-", i/200), Owner: strata.Owner{Host: "h", PID: 1, Start: 1},
			LeaseUntil: time.Now().Add(time.Minute), Config: map[string]any{"PORT": int64(8080), "LOG_LEVEL": "info"}}
	}
	ev := func(action string) *strata.Event {
		return &strata.Event{Actor: "bench", Action: action, Detail: []byte(`{"version":"1"}`)}
	}
	// deploy claims a deployment and, unless prev is kept for the next call, finishes it.
	deploy := func(prev **strata.Deployment) error {
		d := next()
		if *prev != nil {
			p := *prev
			p.State, p.Health, p.FinishedAt = strata.Succeeded, strata.Healthy, time.Now()
			if err := db.FinishAndCreate(ctx, p, ev("deployment.succeeded"), d, ev("deploy")); err != nil {
				return err
			}
		} else if err := db.CreateDeployment(ctx, d, ev("deploy")); err != nil {
			return err
		}
		if paired {
			*prev = d
			return nil
		}
		*prev = nil
		d.State, d.Health, d.FinishedAt = strata.Succeeded, strata.Healthy, time.Now()
		return db.UpdateDeployment(ctx, d, ev("deployment.succeeded"))
	}
	var setup *strata.Deployment
	for range 2000 {
		if err := deploy(&setup); err != nil {
			b.Fatal(err)
		}
	}
	finish := func(d *strata.Deployment) {
		if d != nil {
			d.State = strata.Succeeded
			if err := db.UpdateDeployment(ctx, d, ev("deployment.succeeded")); err != nil {
				b.Fatal(err)
			}
		}
	}
	finish(setup)
	b.ResetTimer()
	b.SetParallelism(4) // 8 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		var prev *strata.Deployment
		for pb.Next() {
			if err := deploy(&prev); err != nil {
				b.Fatal(err)
			}
		}
		finish(prev)
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
