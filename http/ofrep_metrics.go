package http

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// flagCounts counts OFREP evaluations by flag and reason (or error code), under a lock of
// its own so that evaluations do not wait on the rest of the metrics. A key that names no
// flag is counted as flag="" (FLAG_NOT_FOUND): clients choose those keys, and one series
// each would let them grow the server's memory without bound.
type flagCounts struct {
	mu sync.Mutex
	n  map[[2]string]uint64
}

func (m *metrics) flagEvaluated(key, reason string) {
	m.flags.add(key, reason)
}

func (f *flagCounts) add(key, reason string) {
	if reason == "FLAG_NOT_FOUND" {
		key = ""
	}
	f.mu.Lock()
	if f.n == nil {
		f.n = map[[2]string]uint64{}
	}
	f.n[[2]string{key, reason}]++
	f.mu.Unlock()
}

func (f *flagCounts) write(b *bytes.Buffer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b.WriteString("# HELP strata_flag_evaluations_total OFREP flag evaluations this server answered, by flag and reason (or error code).\n# TYPE strata_flag_evaluations_total counter\n")
	for _, k := range slices.SortedFunc(maps.Keys(f.n), func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	}) {
		fmt.Fprintf(b, "strata_flag_evaluations_total{flag=%q,reason=%q} %d\n", k[0], k[1], f.n[k])
	}
}
