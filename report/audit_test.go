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
	tests := []struct {
		name string
		f    strata.EventFilter
		want string
	}{
		{"every event of prod and of its stage", strata.EventFilter{Environment: "prod"}, "1 3 6 7"},
		{"the newest two of them, oldest first", strata.EventFilter{Environment: "prod", Limit: 2}, "6 7"},
		{"stg's", strata.EventFilter{Environment: "stg"}, "2 4"},
		{"an environment no stage holds has its own events only", strata.EventFilter{Environment: "dev"}, ""},
		{"no environment: every event", strata.EventFilter{Limit: 3}, "5 6 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := report.Audit(t.Context(), store, p, tt.f)
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
