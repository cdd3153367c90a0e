package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// testPaging checks the filters that page a list (Before) and the scan of deployments in
// a window (Since), which `stats` reads the history through.
func testPaging(t *testing.T, open func(t *testing.T) strata.Store) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// Five deployments an hour apart, the last two created in the same instant.
	fill := func(t *testing.T) (strata.Store, []*strata.Deployment) {
		s := open(t)
		var ds []*strata.Deployment
		for i := range 5 {
			d := deployment("api", fmt.Sprintf("env-%d", i%2), i)
			d.State, d.Owner, d.PGID, d.LeaseUntil = strata.Succeeded, strata.Owner{}, 0, time.Time{}
			d.CreatedAt = base.Add(time.Duration(min(i, 3)) * time.Hour)
			ds = append(ds, create(t, s, d))
		}
		return s, ds
	}
	t.Run("a page of deployments before one goes on in list order, ties included", func(t *testing.T) {
		s, ds := fill(t)
		all, err := s.Deployments(ctx(t), strata.DeploymentFilter{})
		must(t, err)
		var pages []string
		for before := ""; ; {
			page, err := s.Deployments(ctx(t), strata.DeploymentFilter{Limit: 2, Before: before})
			must(t, err)
			if len(page) == 0 {
				break
			}
			pages = append(pages, ids(page))
			before = page[len(page)-1].ID
		}
		if got, want := strings.Join(pages, " "), ids(all); got != want || len(all) != len(ds) {
			t.Errorf("pages of 2 = %q, want the list %q", got, want)
		}
	})
	t.Run("a page before an unknown deployment is empty", func(t *testing.T) {
		s, _ := fill(t)
		page, err := s.Deployments(ctx(t), strata.DeploymentFilter{Before: "nope' OR 1=1 --"})
		must(t, err)
		if len(page) != 0 {
			t.Errorf("got %s, want nothing", ids(page))
		}
	})
	t.Run("a scan since a time gives the deployments from then, oldest first", func(t *testing.T) {
		s, ds := fill(t)
		var got []*strata.Deployment
		must(t, s.ScanDeployments(ctx(t), strata.DeploymentFilter{Since: base.Add(time.Hour), Environment: "env-1"}, func(d *strata.Deployment) error {
			got = append(got, d)
			return nil
		}))
		if want := ids(at(ds, 1, 3)); ids(got) != want {
			t.Errorf("scan = %q, want %q", ids(got), want)
		}
	})
	t.Run("a scan the callback stops ends without an error", func(t *testing.T) {
		s, ds := fill(t)
		var got []*strata.Deployment
		must(t, s.ScanDeployments(ctx(t), strata.DeploymentFilter{}, func(d *strata.Deployment) error {
			got = append(got, d)
			return strata.ErrStopScan
		}))
		if want := ids(at(ds, 0)); ids(got) != want {
			t.Errorf("scan = %q, want %q", ids(got), want)
		}
	})
	t.Run("promotions and events page before one", func(t *testing.T) {
		s := open(t)
		for i := range 3 {
			must(t, s.CreatePromotion(ctx(t), &strata.Promotion{Service: "api", Version: fmt.Sprint(i), Stage: "prod", State: strata.Waiting, Requester: "a", CreatedAt: base.Add(time.Duration(i) * time.Minute)}, nil))
			must(t, s.AppendEvent(ctx(t), &strata.Event{Actor: "a", Action: "x"}))
		}
		all, err := s.Promotions(ctx(t), strata.PromotionFilter{})
		must(t, err)
		rest, err := s.Promotions(ctx(t), strata.PromotionFilter{Before: all[0].ID})
		must(t, err)
		if got, want := promotionIDs(rest), promotionIDs(all[1:]); got != want {
			t.Errorf("promotions before the newest = %q, want %q", got, want)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{Before: 3, Limit: 1})
		must(t, err)
		if len(evs) != 1 || evs[0].Seq < 2 || evs[0].Seq >= 3 {
			t.Errorf("the newest event before 3 = %v, want seq 2", evs)
		}
	})
}
