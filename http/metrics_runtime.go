package http

import (
	"bytes"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// runtimeMetrics are the standard metrics of a Go process, from Prometheus's own client
// library rather than written by hand: the Go runtime (goroutines, memory, GC), the process
// (CPU, resident memory, open files, start time) and strata_build_info.
type runtimeMetrics struct {
	reg *prometheus.Registry
}

// newRuntimeMetrics returns the collectors; version is what strata_build_info reports.
func newRuntimeMetrics(version string) *runtimeMetrics {
	if version == "" {
		version = "dev"
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "strata_build_info",
		Help: "Always 1: the strata build this server runs (version, Go version, VCS revision).",
	}, []string{"version", "goversion", "revision"})
	revision := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	info.WithLabelValues(version, runtime.Version(), revision).Set(1)
	reg.MustRegister(info)
	return &runtimeMetrics{reg: reg}
}

// write appends the runtime metrics to b in the text exposition format.
func (r *runtimeMetrics) write(b *bytes.Buffer) error {
	mfs, err := r.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}
