package engine_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

func TestARunsOutputIsShownLineByLineEachLineOnce(t *testing.T) {
	cases := []struct {
		name  string
		kind  string
		seen  []string // the run's output as each read finds it, the last at its end
		lines []string
	}{
		{"pieces that cut lines show each whole line once it ends, and the last line at the end", strata.TaskRunbook,
			[]string{"", "migrat", "migrating 1/2\nmigrating", "migrating 1/2\nmigrating", "migrating 1/2\nmigrating 2/2\ndone"},
			[]string{"  api/prod-eu | migrating 1/2", "  api/prod-eu | migrating 2/2", "  api/prod-eu | done"}},
		{"a report's output that does not go on from what was shown is not shown again", strata.TaskRunbook,
			[]string{"one\n", "one\ntwo\n", "one\n… (a piece was lost)\ntwo\nthree\n"},
			[]string{"  api/prod-eu | one", "  api/prod-eu | two"}},
		{"a destroy step's output is shown too", strata.TaskDestroy,
			[]string{"dropping\n"}, []string{"  api/prod-eu | dropping"}},
		{"an observe step's output, a version, is not shown", strata.TaskObserve,
			[]string{"1.2.3\n"}, nil},
		{"a health check's output is not shown", strata.TaskHealth,
			[]string{"healthy"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			logf := func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }
			s := engine.NewRunOutputShown(logf, &strata.TaskRun{Service: "api", Environment: "prod-eu", Kind: tc.kind})
			for _, out := range tc.seen {
				s.Show(out)
			}
			s.End()
			if !slices.Equal(got, tc.lines) {
				t.Errorf("shown %q, want %q", got, tc.lines)
			}
		})
	}
}
