package report_test

import (
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// at is a time in January 2030, UTC.
func at(day, hour, minute int) time.Time {
	return time.Date(2030, 1, day, hour, minute, 0, 0, time.UTC)
}

func TestStatsOfAMadeHistoryHaveTheKnownAnswers(t *testing.T) {
	until := at(31, 0, 0)
	b := report.NewStatsBuilder(until.Add(-30*24*time.Hour), until, "prod", []string{"prod-a", "prod-b"})
	b.AddReleases([]*strata.Release{
		{Service: "api", Version: "1", CreatedAt: at(2, 0, 0)},
		{Service: "api", Version: "2", CreatedAt: at(10, 0, 0)},
		{Service: "api", Version: "3", CreatedAt: at(20, 0, 0)},
	})
	d := func(version, env, state, kind string, finished time.Time) *strata.Deployment {
		return &strata.Deployment{Service: "api", Version: version, Environment: env, State: state, Kind: kind,
			CreatedAt: finished.Add(-time.Minute), FinishedAt: finished}
	}
	history := []*strata.Deployment{
		d("0", "prod-a", strata.Failed, "deploy", time.Date(2029, 12, 25, 0, 0, 0, 0, time.UTC)), // before the window
		d("1", "dev", strata.Succeeded, "release", at(2, 1, 0)),
		d("1", "prod-a", strata.Succeeded, "promotion", at(2, 6, 0)), // v1 reaches prod: lead 6 h
		d("1", "prod-b", strata.Succeeded, "promotion", at(2, 7, 0)),
		d("2", "dev", strata.Succeeded, "release", at(10, 1, 0)),
		d("2", "prod-a", strata.Failed, "promotion", at(10, 2, 0)),                                         // prod-a down
		d("1", "prod-a", strata.Succeeded, "rollback", at(10, 2, 10)),                                      // restored after 10 min; a repair, not a change
		d("2", "prod-a", strata.Succeeded, "deploy", at(11, 2, 0)),                                         // v2 reaches prod: lead 26 h
		d("3", "prod-b", strata.RolledBack, "promotion", at(20, 5, 0)),                                     // prod-b down
		d("2", "prod-b", strata.Succeeded, "deploy", at(20, 5, 30)),                                        // restored after 30 min
		{Service: "api", Version: "3", Environment: "dev", State: strata.Running, CreatedAt: at(30, 0, 0)}, // unfinished
	}
	for _, x := range history {
		b.Add(x)
	}
	doc := b.Stats([]string{"api", "web"})
	api, web := doc.Services[0], doc.Services[1]
	f := func(v *float64) float64 {
		if v == nil {
			t.Fatal("a figure is null where the history measured it")
		}
		return *v
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"two releases reached prod in 30 days: frequency 2/30 a day", api.DeploymentFrequency, 2.0 / 30},
		{"lead time is the median of 6 h and 26 h", f(api.LeadTimeSeconds), 16 * 3600},
		{"two of eight changes failed (the rollback is not a change)", f(api.ChangeFailureRate), 0.25},
		{"time to restore is the median of 10 and 30 minutes", f(api.TimeToRestore), 20 * 60},
		{"eight deployments counted", float64(api.Deployments), 8},
		{"two restores counted", float64(api.Restores), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	var deployments, failures, releases int
	for _, w := range api.Weeks {
		deployments, failures, releases = deployments+w.Deployments, failures+w.Failures, releases+w.Releases
		if w.Week.Weekday() != time.Monday {
			t.Errorf("week %s does not start on a Monday", w.Week)
		}
	}
	if deployments != 8 || failures != 2 || releases != 2 {
		t.Errorf("the weeks hold %d deployments, %d failures, %d releases; want 8, 2, 2", deployments, failures, releases)
	}
	if web.DeploymentFrequency != 0 || web.LeadTimeSeconds != nil || web.ChangeFailureRate != nil || web.TimeToRestore != nil || len(web.Weeks) != len(api.Weeks) {
		t.Errorf("a service with no deployments: %+v; want 0 and nulls, with the same weeks", web)
	}
}

func TestStatsWithoutAPipelineCountEveryEnvironment(t *testing.T) {
	until := at(31, 0, 0)
	b := report.NewStatsBuilder(until.Add(-10*24*time.Hour), until, "", nil)
	b.Add(&strata.Deployment{Service: "api", Version: "1", Environment: "anywhere", State: strata.Succeeded, CreatedAt: at(25, 0, 0), FinishedAt: at(25, 0, 1)})
	if got := b.Stats([]string{"api"}).Services[0].DeploymentFrequency; got != 0.1 {
		t.Errorf("frequency %v, want one release in 10 days (0.1)", got)
	}
}
