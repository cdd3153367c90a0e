package http

import (
	"fmt"
	"testing"
	"time"
)

func TestHealthChecksSpreadOverTheInterval(t *testing.T) {
	cases := []struct {
		name  string
		phase time.Duration
	}{
		{"with no phase", 0},
		{"with a phase, as a second replica has", 17 * time.Second},
	}
	for _, c := range cases {
		t.Run("10,000 environments fill every second of a minute evenly "+c.name, func(t *testing.T) {
			w := &healthWatch{interval: time.Minute, phase: c.phase}
			var perSecond [60]int
			for i := range 10000 {
				at := w.offset("api", fmt.Sprintf("tenant-%d", i))
				if at < 0 || at >= time.Minute {
					t.Fatalf("tenant-%d is due at %s, outside the interval", i, at)
				}
				perSecond[at/time.Second]++
			}
			// 166 a second on average; a hash spreads them within a third of that.
			for s, got := range perSecond {
				if got < 110 || got > 225 {
					t.Errorf("second %d holds %d checks, want about 166", s, got)
				}
			}
		})
	}
	t.Run("a pair is due at the same point of every pass", func(t *testing.T) {
		w := &healthWatch{interval: time.Minute, phase: 5 * time.Second}
		if got, want := w.offset("api", "prod"), w.offset("api", "prod"); got != want {
			t.Errorf("offsets %s and %s, want equal", got, want)
		}
	})
}
