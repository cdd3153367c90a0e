package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

func testTally(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("an empty store tallies nothing", func(t *testing.T) {
		s := open(t)
		got, err := s.TallyDeployments(ctx(t), []float64{1, 10})
		must(t, err)
		if len(got.ByState) != 0 || got.Finished != 0 || got.Seconds != 0 || fmt.Sprint(got.Took) != "[0 0]" {
			t.Errorf("tally = %+v, want nothing counted", got)
		}
	})

	t.Run("deployments are counted by state and the finished ones by how long they took", func(t *testing.T) {
		s := open(t)
		start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		// Durations in seconds, each in its own pair so that none blocks another; -1 is
		// still running.
		took := []float64{0.5, 1, 3, 3, 20, 100, -1}
		for i, secs := range took {
			d := deployment("api", fmt.Sprintf("env-%d", i), i)
			d.StartedAt = start
			create(t, s, d)
			if secs < 0 {
				continue
			}
			d.State = strata.Succeeded
			if i == 4 {
				d.State = strata.Failed
			}
			d.FinishedAt = start.Add(time.Duration(secs * float64(time.Second)))
			must(t, s.UpdateDeployment(ctx(t), d, nil))
		}
		got, err := s.TallyDeployments(ctx(t), []float64{1, 5, 30})
		must(t, err)
		if want := map[string]int{strata.Succeeded: 5, strata.Failed: 1, strata.Running: 1}; fmt.Sprint(got.ByState) != fmt.Sprint(want) {
			t.Errorf("by state = %v, want %v", got.ByState, want)
		}
		// At most 1 s: 0.5 and 1; then 3 and 3; then 20; 100 is over every bound.
		if got, want := fmt.Sprint(got.Took), "[2 2 1]"; got != want {
			t.Errorf("took = %s, want %s", got, want)
		}
		if got.Finished != 6 || got.Seconds != 127.5 {
			t.Errorf("finished = %d in %v s, want 6 in 127.5 s", got.Finished, got.Seconds)
		}
	})

	t.Run("bounds out of order are refused", func(t *testing.T) {
		s := open(t)
		_, err := s.TallyDeployments(ctx(t), []float64{5, 1})
		wantCode(t, err, strata.EINVALID)
	})
}
