package report_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
	"github.com/strata-dev/strata/sqlite"
)

// Audit of one environment asks the store for that environment's events and those that name
// none, and keeps of the latter the promotion-level events of the environment's stages;
// with a limit, the newest that many of what it keeps, oldest first.
func TestAuditOfAnEnvironmentKeepsItsStagesPromotions(t *testing.T) {
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"), nil)
	must(t, err)
	t.Cleanup(func() { store.Close() })
	p := &strata.Project{Pipeline: []*strata.Stage{{Name: "stg", Environments: []string{"stg"}}, {Name: "prod", Environments: []string{"prod"}}}}
	// 1 prod deploy, 2 stg deploy, 3 promote to prod, 4 promote to stg, 5 release (no stage),
	// 6 prod deploy, 7 approve prod.
	for _, e := range []struct{ action, env, detail string }{
		{"deploy", "prod", ""}, {"deploy", "stg", ""}, {"promote", "", `{"stage":"prod"}`}, {"promote", "", `{"stage":"stg"}`},
		{"release", "", `{"version":"1"}`}, {"deploy", "prod", ""}, {"approve", "", `{"stage":"prod"}`},
	} {
		ev := &strata.Event{Actor: "a", Action: e.action, Environment: e.env}
		if e.detail != "" {
			ev.Detail = []byte(e.detail)
		}
		must(t, store.AppendEvent(t.Context(), ev))
	}
	stgOnly := func(e *strata.Event) bool {
		return report.SeesEvent(p, func(env string) bool { return env == "stg" }, e)
	}
	tests := []struct {
		name string
		f    strata.EventFilter
		sees func(*strata.Event) bool
		want string
	}{
		{"every event of prod and of its stage", strata.EventFilter{Environment: "prod"}, nil, "1 3 6 7"},
		{"the newest two of them, oldest first", strata.EventFilter{Environment: "prod", Limit: 2}, nil, "6 7"},
		{"stg's", strata.EventFilter{Environment: "stg"}, nil, "2 4"},
		{"an environment no stage holds has its own events only", strata.EventFilter{Environment: "dev"}, nil, ""},
		{"no environment: every event", strata.EventFilter{Limit: 3}, nil, "5 6 7"},
		{"a principal of stg gets a full page of what it may see, however new the rest", strata.EventFilter{Limit: 3}, stgOnly, "2 4 5"},
		{"a principal of stg sees stg's events and those of no environment or stage", strata.EventFilter{}, stgOnly, "2 4 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := report.Audit(t.Context(), store, p, tt.f, tt.sees)
			must(t, err)
			var got []string
			for _, e := range evs {
				got = append(got, fmt.Sprint(e.Seq))
			}
			if got := strings.Join(got, " "); got != tt.want {
				t.Errorf("events %q, want %q", got, tt.want)
			}
		})
	}
}
