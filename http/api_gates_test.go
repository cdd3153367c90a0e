package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// readsStore is a Store that keeps what each call of Deployments returned.
type readsStore struct {
	strata.Store
	mu    sync.Mutex
	reads []*strata.Deployment
}

func (s *readsStore) Deployments(ctx context.Context, f strata.DeploymentFilter) ([]*strata.Deployment, error) {
	ds, err := s.Store.Deployments(ctx, f)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads = append(s.reads, ds...)
	return ds, err
}

// take returns the deployments read since the last take and forgets them.
func (s *readsStore) take() []*strata.Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reads
	s.reads = nil
	return r
}

func TestAWaitingPromotionIsJudgedOnItsOwnReleasesHistory(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	ctx := t.Context()
	// A long history of earlier versions, recorded straight into the store.
	t0 := time.Now().Add(-48 * time.Hour)
	history := 0
	for i := range 30 {
		v := fmt.Sprintf("0.%d", i)
		for j, env := range []string{"dev", "staging", "prod-us", "prod-eu"} {
			at := t0.Add(time.Duration(i*10+j) * time.Minute)
			d := &strata.Deployment{Service: "api", Environment: env, Version: v, Kind: engine.KindDeploy, Actor: "setup",
				State: strata.Succeeded, Health: strata.Healthy, CreatedAt: at, StartedAt: at, FinishedAt: at}
			if err := x.store.CreateDeployment(ctx, d, nil); err != nil {
				t.Fatal(err)
			}
			history++
		}
	}
	alice := x.as("alice")
	if _, err := alice.Release(ctx, "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"dev", "staging"} {
		if _, err := alice.Promote(ctx, engine.PromoteRequest{Service: "api", Version: "1.0.0", To: stage}); err != nil {
			t.Fatalf("promote to %s: %v", stage, err)
		}
	}
	res, err := alice.Promote(ctx, engine.PromoteRequest{Service: "api", Version: "1.0.0", To: "prod"})
	if strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("promote to prod: %v, want it blocked on the approvals gate", err)
	}
	p := res.Promotion

	reads := &readsStore{Store: x.store}
	_, url := x.serve(x.newEngine(reads), 0)
	reads.take()
	r := x.doAt(url, "victor", "GET", "/api/v1/promotions/"+p.ID, nil)
	read := reads.take()
	if r.status != 200 {
		t.Fatalf("GET promotion: %d %s", r.status, r.body)
	}

	t.Run("its gates are those the whole history gives", func(t *testing.T) {
		var doc struct{ Gates []plan.Gate }
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatal(err)
		}
		all, err := x.engine.Facts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := plan.Gates(x.engine.Project, plan.Request{ID: p.ID, Service: p.Service, Version: p.Version, Stage: x.engine.Project.Stage(p.Stage),
			Requester: p.Requester, Approvals: p.Approvals, Override: p.Override, OverrideBy: p.Requester, Reason: p.Reason}, all)
		if len(want) == 0 || plan.Open(want) {
			t.Fatalf("whole-history gates %+v: want some, one of them closed", want)
		}
		if !reflect.DeepEqual(doc.Gates, want) {
			t.Errorf("gates:\n%+v\nwant, as on the whole history:\n%+v", doc.Gates, want)
		}
	})

	t.Run("judging them reads no other version's deployments", func(t *testing.T) {
		for _, d := range read {
			if d.Version != p.Version {
				t.Errorf("read %s, a deployment of %s@%s", d.ID, d.Service, d.Version)
			}
		}
		if len(read) >= history {
			t.Errorf("read %d deployments, want fewer than the history's %d", len(read), history)
		}
	})
}
