// Package storetest is the contract every strata.Store passes: one suite, run by each
// store's own tests against a real database (SQLite in a temporary file, PostgreSQL in a
// throwaway schema).
//
// The suite relies only on the Store interface and its documented error codes. It does not
// control the store's clock, so it asserts order ("newest first") only between records it
// created one after another, and asserts that times are set rather than what they are. A
// store's clock must move forward between calls for "newest first" to be well defined; a
// store may break ties by insertion order.
package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// Run runs the contract suite. Open returns a new, empty store for each subtest; Run closes it.
func Run(t *testing.T, open func(t *testing.T) strata.Store) {
	groups := []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) strata.Store)
	}{
		{"releases", testReleases},
		{"deployments", testDeployments},
		{"finishing one deployment and claiming the next", testFinishAndCreate},
		{"leases", testLeases},
		{"deployment filters", testDeploymentFilters},
		{"deployments by version and the latest of each pair", testVersionAndLatest},
		{"tallies of deployments", testTally},
		{"logs", testLogs},
		{"promotions", testPromotions},
		{"promotion scopes", testPromotionScopes},
		{"freezes", testFreezes},
		{"events", testEvents},
		{"scanning events", testScanEvents},
		{"paging and scanning deployments", testPaging},
		{"environments", testEnvironments},
		{"tokens", testTokens},
		{"promotion claims", testClaimPromotion},
		{"promotion leases", testPromotionLeases},
		{"concurrency", testConcurrency},
		{"health checks", testHealth},
		{"bundles", testBundles},
		{"agents and their claims", testAgents},
		{"feature flags", testFlags},
		{"webhook deliveries", testWebhooks},
		{"task runs", testTaskRuns},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			// Groups share nothing (each case opens its own store), and most of a case's
			// time on PostgreSQL is the server's making a fresh schema, which overlaps.
			t.Parallel()
			g.run(t, func(t *testing.T) strata.Store {
				t.Helper()
				s := open(t)
				t.Cleanup(func() {
					if err := s.Close(); err != nil {
						t.Errorf("close store: %v", err)
					}
				})
				return s
			})
		})
	}
}

// ctx returns a context that ends with the test.
func ctx(t *testing.T) context.Context {
	return t.Context()
}

// wantCode fails t unless err carries the code want ("" for no error).
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := strata.ErrorCode(err); got != want {
		t.Fatalf("error code = %q, want %q (error: %v)", got, want, err)
	}
}

// must fails t on any error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// owner returns a distinct owner for each n.
func owner(n int) strata.Owner {
	return strata.Owner{Host: "host-" + string(rune('a'+n%26)), PID: 1000 + n, Start: int64(7000 + n)}
}

// deployment returns a running deployment of service to env owned by owner(n).
func deployment(service, env string, n int) *strata.Deployment {
	return &strata.Deployment{
		Service:     service,
		Environment: env,
		Version:     "1.0.0",
		State:       strata.Running,
		Attempt:     1,
		Kind:        "deploy",
		Actor:       "alice",
		Owner:       owner(n),
		PGID:        4000 + n,
		LeaseUntil:  time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		StartedAt:   time.Date(2029, 12, 31, 23, 0, 0, 0, time.UTC),
	}
}

// create records d or fails t.
func create(t *testing.T, s strata.Store, d *strata.Deployment) *strata.Deployment {
	t.Helper()
	must(t, s.CreateDeployment(ctx(t), d, nil))
	return d
}

// ids returns the ids of deployments, in order.
func ids(ds []*strata.Deployment) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return strings.Join(out, " ")
}

// promotionIDs returns the ids of promotions, in order.
func promotionIDs(ps []*strata.Promotion) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return strings.Join(out, " ")
}

// at returns the elements of xs at positions is, in that order: what a filter test wants
// listed, out of what it made.
func at[T any](xs []T, is ...int) []T {
	out := make([]T, 0, len(is))
	for _, i := range is {
		out = append(out, xs[i])
	}
	return out
}

// sameTime reports whether a and b are the same instant to the microsecond (what every
// store keeps).
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// RunEveryWay runs the contract three ways, in parallel: on a clock that ticks a millisecond
// a call (Ticking), on one that stands still (a coarse clock must not change the order of
// anything), and with every writer's work run and rolled back once before it runs for real,
// as the group commit does when another writer of its batch fails (so each method's work
// must be safe to run twice). Open opens a new, empty store on the clock now.
func RunEveryWay(t *testing.T, open func(t *testing.T, now func() time.Time) (strata.Store, error)) {
	at := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	ways := []struct {
		name     string
		now      func() func() time.Time
		rehearse bool
	}{
		{"on a ticking clock", Ticking, false},
		{"with the same time everywhere", func() func() time.Time { return func() time.Time { return at } }, false},
		{"with every writer run twice", Ticking, true},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			Run(t, func(t *testing.T) strata.Store {
				s, err := open(t, w.now())
				if err != nil {
					t.Fatal(err)
				}
				if w.rehearse {
					r, ok := s.(interface{ RehearseWriters() })
					if !ok {
						s.Close()
						t.Skip("the store cannot rehearse its writers")
					}
					r.RehearseWriters()
				}
				return s
			})
		})
	}
}

// Opened returns s, a store just opened, closing it when t ends; or fails t with err, the
// open's error.
func Opened[S interface{ Close() error }](t testing.TB, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
