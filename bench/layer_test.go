package bench_test

import (
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/bench"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/layer"
)

const (
	estateEnvs     = 1000
	estateServices = 50
)

var (
	estateOnce sync.Once
	estate     *strata.Project
	estateErr  error
)

// loadEstate parses the generated estate through the config package, once per process.
func loadEstate(tb testing.TB) *strata.Project {
	tb.Helper()
	estateOnce.Do(func() {
		estate, _, estateErr = config.Parse("strata.yaml", bench.Estate(estateEnvs, estateServices), tb.TempDir())
	})
	if estateErr != nil {
		tb.Fatal(estateErr)
	}
	return estate
}

// resolveAll resolves every (service, environment) of p and returns how many keys it saw.
func resolveAll(tb testing.TB, p *strata.Project) int {
	rv := layer.NewResolver(p)
	keys := 0
	for _, s := range p.Services {
		for _, e := range p.Environments {
			r, err := rv.Resolve(s.Name, e.Name, nil)
			if err != nil {
				tb.Fatal(err)
			}
			keys += len(r.Keys)
		}
	}
	return keys
}

func TestTheGeneratedEstateLoadsAndResolvesCleanly(t *testing.T) {
	p := loadEstate(t)
	if len(p.Environments) != estateEnvs || len(p.Services) != estateServices {
		t.Fatalf("%d environments, %d services", len(p.Environments), len(p.Services))
	}
	if probs := layer.Check(p); len(probs) > 0 {
		t.Fatalf("Check: %d problems, the first: %v", len(probs), probs[0])
	}
	r, err := layer.Resolve(p, "svc05", "env0053", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"PORT": int64(9005), "REPLICAS": int64(4), "DB_URL": "postgres://db-t53.internal/svc05",
		"URL": "https://svc05.r3.example.com", "LOG_LEVEL": "warn", "INSTANCE": "svc05-env0053", "API_KEY": "***",
	} {
		if got := r.Values[k]; got != want {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
}

// BenchmarkParseEstate is the cost of loading the estate the other benchmarks resolve.
func BenchmarkParseEstate(b *testing.B) {
	data := bench.Estate(estateEnvs, estateServices)
	dir := b.TempDir()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := config.Parse("strata.yaml", data, dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveAll resolves all 50,000 (service, environment) configurations, with
// provenance and interpolation, one after another. One op is the whole estate.
func BenchmarkResolveAll(b *testing.B) {
	p := loadEstate(b)
	keys := 0
	cpu := cpuTime()
	for b.Loop() {
		keys = resolveAll(b, p)
	}
	reportCPU(b, cpu)
	n := float64(len(p.Services) * len(p.Environments))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/config")
	b.ReportMetric(float64(keys)/n, "keys/config")
	reportPeakRSS(b)
}

// BenchmarkResolveAllParallel is BenchmarkResolveAll spread over GOMAXPROCS goroutines,
// one Resolver shared by all.
func BenchmarkResolveAllParallel(b *testing.B) {
	p := loadEstate(b)
	workers := runtime.GOMAXPROCS(0)
	cpu := cpuTime()
	for b.Loop() {
		rv := layer.NewResolver(p)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(p.Environments); i += workers {
					for _, s := range p.Services {
						if _, err := rv.Resolve(s.Name, p.Environments[i].Name, nil); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
	}
	reportCPU(b, cpu)
	reportPeakRSS(b)
}

// BenchmarkResolveAllRetained keeps all 50,000 results, as a caller comparing the whole
// estate would, and reports the live heap they take.
func BenchmarkResolveAllRetained(b *testing.B) {
	p := loadEstate(b)
	var kept []*layer.Resolved
	for b.Loop() {
		kept = nil
		rv := layer.NewResolver(p)
		for _, s := range p.Services {
			for _, e := range p.Environments {
				r, err := rv.Resolve(s.Name, e.Name, nil)
				if err != nil {
					b.Fatal(err)
				}
				kept = append(kept, r)
			}
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "liveHeap-MiB")
	runtime.KeepAlive(kept)
	reportPeakRSS(b)
}

// BenchmarkBaselineCopy is the floor: it only copies 50,000 maps the size of a resolved
// configuration (the values of each service in the first environment, in turn).
func BenchmarkBaselineCopy(b *testing.B) {
	p := loadEstate(b)
	var samples []map[string]any
	for _, s := range p.Services {
		r, err := layer.Resolve(p, s.Name, p.Environments[0].Name, nil)
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, r.Values)
	}
	total := len(p.Services) * len(p.Environments)
	var sink map[string]any
	cpu := cpuTime()
	for b.Loop() {
		for i := range total {
			src := samples[i%len(samples)]
			dst := make(map[string]any, len(src))
			for k, v := range src {
				dst[k] = v
			}
			sink = dst
		}
	}
	_ = sink
	reportCPU(b, cpu)
	reportPeakRSS(b)
}

// cpuTime is the CPU time (user and system) the process has used so far. The machine is
// shared, so wall time alone can overstate what Strata costs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU seconds per op used since start, garbage collection included.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
}

// reportPeakRSS adds the process's peak resident set so far, in MiB (Linux reports KiB).
func reportPeakRSS(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MiB")
	}
}
