package memlimit_test

import (
	"context"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/memlimit"
)

func TestParseReadsWhatGOMEMLIMITTakesAndAutoAndOff(t *testing.T) {
	cases := []struct {
		name, in string
		want     memlimit.Setting
		err      string
	}{
		{"auto is the automatic limit", "auto", memlimit.Setting{Auto: true}, ""},
		{"off is no limit", "off", memlimit.Setting{}, ""},
		{"mebibytes are read", "150MiB", memlimit.Setting{Bytes: 150 << 20}, ""},
		{"gibibytes are read", "1GiB", memlimit.Setting{Bytes: 1 << 30}, ""},
		{"plain bytes are read", "268435456", memlimit.Setting{Bytes: 256 << 20}, ""},
		{"a decimal unit is refused", "150MB", memlimit.Setting{}, "want auto, off, or a size"},
		{"a negative size is refused", "-5MiB", memlimit.Setting{}, "want auto, off, or a size"},
		{"a size too small to work in is refused", "1MiB", memlimit.Setting{}, "below 16MiB"},
		{"an overflowing size is refused", "99999999999TiB", memlimit.Setting{}, "want auto, off, or a size"},
		{"a hostile string is quoted, not run", "$(rm -rf /)", memlimit.Setting{}, `"$(rm -rf /)" is not a memory limit`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := memlimit.Parse(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Parse(%q) = %v, %v; want an error saying %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
			if again, err := memlimit.Parse(got.String()); err != nil || again != got {
				t.Fatalf("Parse(%q) = %+v, %v; want it to read back as %+v", got.String(), again, err, got)
			}
		})
	}
}

func TestTheAutomaticLimitFollowsALargeLiveHeap(t *testing.T) {
	cases := []struct {
		name string
		live int64
		want int64
	}{
		{"a small heap gets the floor", 10 << 20, memlimit.Floor},
		{"a heap whose half-again is under the floor gets the floor", 90 << 20, memlimit.Floor},
		{"a large heap gets itself and a half", 400 << 20, 600 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := memlimit.Auto(c.live); got != c.want {
				t.Fatalf("Auto(%d) = %d, want %d", c.live, got, c.want)
			}
		})
	}
}

func TestApplySetsTheLimitUnlessGOMEMLIMITDoesAndTheUserDidNot(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	auto, fixed := memlimit.Setting{Auto: true}, memlimit.Setting{Bytes: 512 << 20}
	cases := []struct {
		name      string
		env       string
		s         memlimit.Setting
		explicit  bool
		wantSaid  string
		wantLimit int64 // 0: as it was
	}{
		{"by default the automatic limit is set", "", auto, false, "auto (now 150MiB)", memlimit.Floor},
		{"GOMEMLIMIT wins over the default", "300MiB", auto, false, "", 0},
		{"a size given wins over GOMEMLIMIT", "300MiB", fixed, true, "512MiB", 512 << 20},
		{"off leaves no limit", "", memlimit.Setting{}, true, "off", math.MaxInt64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", c.env)
			debug.SetMemoryLimit(before)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if got := memlimit.Apply(ctx, c.s, c.explicit); got != c.wantSaid {
				t.Errorf("Apply says %q, want %q", got, c.wantSaid)
			}
			want := c.wantLimit
			if want == 0 {
				want = before
			}
			if got := debug.SetMemoryLimit(-1); got != want {
				t.Errorf("the limit is %d, want %d", got, want)
			}
		})
	}
}
