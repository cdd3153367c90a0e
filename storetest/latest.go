package storetest

import (
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// testVersionAndLatest checks DeploymentFilter.Version and .Latest on a history of several
// pairs and versions, some made at the same instant: the newest of a pair is the newest by
// created time, then by insertion, and never the last inserted merely for being last.
func testVersionAndLatest(t *testing.T, open func(t *testing.T) strata.Store) {
	s := open(t)
	t0 := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	var made []*strata.Deployment
	for i, c := range []struct {
		service, env, version, state string
		at                           int // seconds after t0
	}{
		{"api", "dev", "1", strata.Succeeded, 0},
		{"api", "dev", "2", strata.Succeeded, 1},
		{"api", "prod", "1", strata.Succeeded, 2},
		{"api", "prod", "2", strata.Failed, 3},
		{"web", "dev", "1", strata.Succeeded, 3},
		{"web", "dev", "2", strata.Succeeded, 4},
		{"web", "dev", "3", strata.Succeeded, 4}, // same instant as 5: inserted later, so newer
		{"api", "dev", "3", strata.Failed, 4},    // same instant as 6, in another pair
		{"web", "prod", "1", strata.Succeeded, 9},
		{"web", "prod", "2", strata.Succeeded, 8}, // inserted after 8 but made before it
	} {
		d := deployment(c.service, c.env, i)
		d.Version, d.State, d.CreatedAt = c.version, c.state, t0.Add(time.Duration(c.at)*time.Second)
		made = append(made, create(t, s, d))
	}
	id := func(is ...int) string { return ids(at(made, is...)) }
	succeeded := []string{strata.Succeeded}
	tests := []struct {
		name string
		f    strata.DeploymentFilter
		want string
	}{
		{"a version's deployments are listed newest first, of every service", strata.DeploymentFilter{Version: "2"}, id(9, 5, 3, 1)},
		{"a version of one service", strata.DeploymentFilter{Service: "web", Version: "2"}, id(9, 5)},
		{"a version's succeeded deployments of one service", strata.DeploymentFilter{Service: "api", Version: "2", States: succeeded}, id(1)},
		{"a version never deployed lists nothing", strata.DeploymentFilter{Version: "9"}, ""},
		{"latest lists the newest of each pair, newest first, ties by insertion", strata.DeploymentFilter{Latest: true}, id(8, 7, 6, 3)},
		{"latest succeeded is what runs in each pair", strata.DeploymentFilter{Latest: true, States: succeeded}, id(8, 6, 2, 1)},
		{"latest of one service", strata.DeploymentFilter{Service: "api", Latest: true, States: succeeded}, id(2, 1)},
		{"latest in one environment", strata.DeploymentFilter{Environment: "dev", Latest: true}, id(7, 6)},
		{"latest of one pair", strata.DeploymentFilter{Service: "web", Environment: "dev", Latest: true}, id(6)},
		{"latest of a version leaves out the pairs that never had it", strata.DeploymentFilter{Version: "3", Latest: true}, id(7, 6)},
		{"latest of a version in each pair that had it", strata.DeploymentFilter{Version: "1", Latest: true, States: succeeded}, id(8, 4, 2, 0)},
		{"the limit applies to the pairs' newest", strata.DeploymentFilter{Latest: true, Limit: 2}, id(8, 7)},
		{"latest of an unknown service lists nothing", strata.DeploymentFilter{Service: "db", Latest: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := s.Deployments(ctx(t), tt.f)
			must(t, err)
			if got := ids(ds); got != tt.want {
				t.Fatalf("deployments = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("latest reads back every field", func(t *testing.T) {
		ds, err := s.Deployments(ctx(t), strata.DeploymentFilter{Service: "web", Environment: "prod", Latest: true})
		must(t, err)
		if len(ds) != 1 {
			t.Fatalf("got %d deployments, want 1", len(ds))
		}
		checkDeployment(t, ds[0], made[8])
	})
}
