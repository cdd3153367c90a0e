// Package memlimit gives a long-running server a soft memory limit
// (runtime/debug.SetMemoryLimit) when the user did not set one with GOMEMLIMIT.
//
// Go's collector lets the heap grow to twice what is live before it collects. A server
// that keeps a large estate in memory (10,000 environments: the project and the status
// snapshot, some 50 MB live) and rebuilds answers under load peaks well above what it
// holds. A fixed limit would make the collector run without pause on an estate whose live
// heap nears it, so the automatic limit follows the live heap: at least Floor, and
// otherwise the live heap and a half, read again every second.
package memlimit

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// Floor is the smallest automatic limit: at 10,000 environments x 5 services, `strata
// serve` stays under 200 MB resident with it (bench/README.md), and a smaller estate
// never reaches it.
const Floor int64 = 150 << 20

// Setting is what --memory-limit says: the automatic limit, none, or a fixed one.
type Setting struct {
	Auto  bool
	Bytes int64 // the fixed limit; 0 with Auto false is no limit
}

// String returns the setting as Parse reads it.
func (s Setting) String() string {
	switch {
	case s.Auto:
		return "auto"
	case s.Bytes == 0:
		return "off"
	}
	return FormatBytes(s.Bytes)
}

// units are the suffixes GOMEMLIMIT takes, with their multipliers.
var units = []struct {
	suffix string
	n      int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// Parse reads a --memory-limit value: "auto", "off", or a size as GOMEMLIMIT writes it
// (a whole number of bytes with an optional B, KiB, MiB, GiB or TiB: 150MiB, 1GiB).
func Parse(s string) (Setting, error) {
	t := strings.TrimSpace(s)
	switch t {
	case "auto":
		return Setting{Auto: true}, nil
	case "off":
		return Setting{}, nil
	}
	num, mult := t, int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			num, mult = strings.TrimSuffix(t, u.suffix), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return Setting{}, fmt.Errorf("%q is not a memory limit: want auto, off, or a size such as 150MiB or 1GiB", s)
	}
	if n*mult < 16<<20 {
		return Setting{}, fmt.Errorf("%q is below 16MiB: the server could do little but collect garbage; want auto, off, or a size such as 150MiB", s)
	}
	return Setting{Bytes: n * mult}, nil
}

// FormatBytes writes n in the largest unit that divides it, as Parse reads it.
func FormatBytes(n int64) string {
	for _, u := range units {
		if n%u.n == 0 && n >= u.n {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// Auto returns the automatic limit for a live heap of live bytes: Floor, or the live heap
// and a half when that is more, so the collector never has to run without pause.
func Auto(live int64) int64 {
	return max(Floor, live+live/2)
}

// FromEnvironment reports whether GOMEMLIMIT sets the runtime's limit already.
func FromEnvironment() bool {
	v, ok := os.LookupEnv("GOMEMLIMIT")
	return ok && v != ""
}

// Apply sets the process's soft memory limit as s says, and returns what it set ("" when it
// left the runtime's as it was). explicit says the user gave s; otherwise a GOMEMLIMIT in
// the environment wins. The automatic limit is followed in the background until ctx ends.
func Apply(ctx context.Context, s Setting, explicit bool) string {
	switch {
	case !explicit && FromEnvironment():
		return ""
	case s.Auto:
		set := func() int64 {
			l := Auto(liveHeap())
			debug.SetMemoryLimit(l)
			return l
		}
		first := set()
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					set()
				}
			}
		}()
		return "auto (now " + FormatBytes(first) + ")"
	case s.Bytes == 0:
		debug.SetMemoryLimit(math.MaxInt64)
		return "off"
	}
	debug.SetMemoryLimit(s.Bytes)
	return FormatBytes(s.Bytes)
}

// liveHeap returns the bytes of heap the last collection found live.
func liveHeap() int64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sample[0].Value.Uint64())
}
