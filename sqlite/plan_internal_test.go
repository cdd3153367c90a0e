package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlstore"
)

// The listings that run on every command, or for every deployment, must find their rows
// through an index, not by reading the whole history.
func TestDeploymentListingsUseAnIndex(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "state.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name   string
		filter strata.DeploymentFilter
		index  string
	}{
		{"the active deployments", strata.DeploymentFilter{States: []string{strata.Running, strata.Pending, strata.Interrupted}}, "deployments_claim"},
		{"a pair's newest succeeded one", strata.DeploymentFilter{Service: "api", Environment: "prod", States: []string{strata.Succeeded}, Limit: 1}, "deployments_pair"},
		{"one release's", strata.DeploymentFilter{Service: "api", Version: "1.2.0", States: []string{strata.Succeeded}}, "deployments_version"},
		{"a promotion's", strata.DeploymentFilter{PromotionID: "p-1"}, "deployments_promotion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, args := sqlstore.DeploymentsQuery(dialect, tc.filter)
			rows, err := db.b.read.Query("EXPLAIN QUERY PLAN "+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if got := strings.Join(plan, "; "); !strings.Contains(got, tc.index) {
				t.Errorf("the plan is %q; want it to use %s", got, tc.index)
			}
		})
	}
}
