package http_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// twoServers starts two schedulers ticking every 20ms on one store file, each through its
// own connection and as a different owner (as two `strata serve` on two hosts would be).
func (x *apiEstate) twoServers(t *testing.T) {
	for _, host := range []string{"replica-a", "replica-b"} {
		e := x.newEngine(openStore(t, x.dir))
		e.Owner = strata.Owner{Host: host, PID: 1, Start: 1}
		x.serve(e, 20*time.Millisecond)
	}
}

// waitFor polls cond until it holds, failing t after 30 seconds (the bound of a hung test,
// not a measure of speed: a busy machine may take seconds to run a step).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

// count returns how many audit events of action are about subject.
func (x *apiEstate) count(action, subject string) int {
	x.t.Helper()
	evs, err := x.store.Events(context.Background(), strata.EventFilter{Action: action})
	if err != nil {
		x.t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Subject == subject {
			n++
		}
	}
	return n
}

// TestTwoServersRunAWaitingPromotionOnce: a promotion waits on a freeze; once it is lifted,
// two servers' schedulers both find its gates open, and exactly one runs it.
func TestTwoServersRunAWaitingPromotionOnce(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	ctx := t.Context()
	if err := x.store.SetFreeze(ctx, "prod-eu", &strata.Freeze{Environment: "prod-eu", Reason: "audit", Actor: "carol"}, nil); err != nil {
		t.Fatal(err)
	}
	id := x.shipToProd("1.0.0", "alice")
	if res, err := x.as("bob").Approve(ctx, id); strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("approve: %v (%+v), want it still waiting on the freeze", err, res)
	}
	x.twoServers(t)
	time.Sleep(100 * time.Millisecond)
	if p, _ := x.store.Promotion(ctx, id); p.State != strata.Waiting {
		t.Fatalf("promotion is %s while prod-eu is frozen, want waiting", p.State)
	}
	if err := x.store.SetFreeze(ctx, "prod-eu", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the promotion succeeded", func() bool {
		p, err := x.store.Promotion(ctx, id)
		return err == nil && p.State == strata.Succeeded
	})
	time.Sleep(100 * time.Millisecond) // a few more ticks of both
	ds, err := x.store.Deployments(ctx, strata.DeploymentFilter{PromotionID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Errorf("%d deployments for the promotion, want 2 (prod-us and prod-eu once each)", len(ds))
	}
	if n := x.count("promotion.running", id); n != 1 {
		t.Errorf("the promotion started %d times, want once", n)
	}
}

// TestTwoServersResumeAnInterruptedDeploymentOnce: a deployment whose owner is gone (its
// lease lapsed) is taken over by exactly one of two servers and finished as attempt 2.
func TestTwoServersResumeAnInterruptedDeploymentOnce(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	ctx := t.Context()
	e := x.as("alice")
	if _, err := e.Release(ctx, "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Release(ctx, "api", "2.0.0"); err != nil {
		t.Fatal(err)
	}
	rel, err := x.store.Release(ctx, "api", "2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	d := &strata.Deployment{Service: "api", Environment: "prod-us", Version: "2.0.0", ReleaseID: rel.ID, State: strata.Running,
		Attempt: 1, Kind: engine.KindDeploy, Actor: "alice", Owner: strata.Owner{Host: "gone-host", PID: 4242, Start: 1},
		LeaseUntil: past, CreatedAt: past, StartedAt: past}
	if err := x.store.CreateDeployment(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	x.twoServers(t)
	waitFor(t, "the deployment succeeded", func() bool {
		got, err := x.store.Deployment(ctx, d.ID)
		return err == nil && got.State == strata.Succeeded
	})
	time.Sleep(100 * time.Millisecond)
	got, _ := x.store.Deployment(ctx, d.ID)
	if got.Attempt != 2 {
		t.Errorf("attempt %d, want 2 (resumed once)", got.Attempt)
	}
	if n := x.count("deployment.interrupted", d.ID); n != 1 {
		t.Errorf("taken over %d times, want once", n)
	}
}

// TestTwoServersCarryOnAStrandedPromotionOnce: a running promotion whose owner is gone (its
// lease lapsed before its first deployment) is taken over by exactly one of two servers,
// which deploys each of its environments once; its gates are not judged again.
func TestTwoServersCarryOnAStrandedPromotionOnce(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	ctx := t.Context()
	if _, err := x.as("alice").Release(ctx, "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	p := &strata.Promotion{Service: "api", Version: "1.0.0", Stage: "prod", State: strata.Running, Requester: "alice",
		Owner: strata.Owner{Host: "gone-host", PID: 4242, Start: 1}, LeaseUntil: past}
	if err := x.store.CreatePromotion(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	x.twoServers(t)
	waitFor(t, "the promotion succeeded", func() bool {
		got, err := x.store.Promotion(ctx, p.ID)
		return err == nil && got.State == strata.Succeeded
	})
	time.Sleep(100 * time.Millisecond) // a few more ticks of both
	ds, err := x.store.Deployments(ctx, strata.DeploymentFilter{PromotionID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	envs := map[string]int{}
	for _, d := range ds {
		envs[d.Environment]++
	}
	if len(ds) != 2 || envs["prod-us"] != 1 || envs["prod-eu"] != 1 {
		t.Errorf("deployments of the promotion by environment: %v, want prod-us and prod-eu once each", envs)
	}
	if n := x.count("promotion.interrupted", p.ID); n != 1 {
		t.Errorf("taken over %d times, want once", n)
	}
}

// TestPromotingAStrandedPromotionThroughTheAPIIsBlockedUntilTheSchedulerCarriesItOn: asking
// again for a release whose promotion was stranded (its owner gone) answers 409 with that
// promotion and a pointer to resume; the next tick carries it on.
func TestPromotingAStrandedPromotionThroughTheAPIIsBlockedUntilTheSchedulerCarriesItOn(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	ctx := t.Context()
	if _, err := x.as("alice").Release(ctx, "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	p := &strata.Promotion{Service: "api", Version: "1.0.0", Stage: "prod", State: strata.Running, Requester: "alice",
		Owner: strata.Owner{Host: "gone-host", PID: 4242, Start: 1}, LeaseUntil: time.Now().Add(-time.Minute)}
	if err := x.store.CreatePromotion(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	r := x.do("alice", "POST", "/api/v1/promotions", map[string]any{"service": "api", "version": "1.0.0", "to": "prod"})
	msg, _ := url.QueryUnescape(r.header.Get("Strata-Error"))
	if r.status != 409 || !strings.Contains(r.body, `"id": "`+p.ID+`"`) || !strings.Contains(r.body, `"state": "running"`) || !strings.Contains(msg, "strata resume") {
		t.Fatalf("promote again: %d %s (%s); want 409 with %s running and a pointer to resume", r.status, r.body, msg, p.ID)
	}
	x.server.Tick(ctx)
	got, err := x.store.Promotion(ctx, p.ID)
	if err != nil || got.State != strata.Succeeded {
		t.Fatalf("after a tick: %+v, %v; want %s succeeded", got, err, p.ID)
	}
}

// TestSchedulerTickWithNothingToDo: a tick with nothing to do changes nothing.
func TestSchedulerTickWithNothingToDo(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	before, _ := x.store.Events(t.Context(), strata.EventFilter{})
	x.server.Tick(t.Context())
	after, _ := x.store.Events(t.Context(), strata.EventFilter{})
	if len(after) != len(before) {
		t.Errorf("an idle tick wrote %d audit events", len(after)-len(before))
	}
}

// TestTheSchedulerDestroysExpiredEnvironmentsMadeAfterItStarted: short-lived environments
// made where the store is (the CLI on the server's host) appear in what the API lists at the
// next tick; they, and one made through the API, are destroyed by the scheduler when their
// time runs out, and are gone from the list.
func TestTheSchedulerDestroysExpiredEnvironmentsMadeAfterItStarted(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	ctx := t.Context()
	if r := x.do("carol", "POST", "/api/v1/environments", map[string]any{"name": "pr-api", "like": "dev", "ttl": "1s"}); r.status != 200 {
		t.Fatalf("create pr-api: %d %s", r.status, r.body)
	}
	now := time.Now()
	for _, env := range []*strata.EphemeralEnv{
		{Name: "pr-cli", Like: "staging", CreatedBy: "carol", CreatedAt: now.Add(-time.Minute), Expires: now.Add(-time.Second)},
		{Name: "pr-live", Like: "staging", CreatedBy: "carol", CreatedAt: now, Expires: now.Add(time.Hour)},
	} {
		if err := x.store.CreateEnvironment(ctx, env, nil); err != nil {
			t.Fatal(err)
		}
	}
	listed := func(name string) bool {
		return strings.Contains(x.do("victor", "GET", "/api/v1/environments", nil).body, `"`+name+`"`)
	}
	x.server.Tick(ctx)
	if n := x.count("env.destroy", "pr-cli"); n != 1 || listed("pr-cli") {
		t.Errorf("after a tick the expired pr-cli was destroyed %d times (want once), listed: %v", n, listed("pr-cli"))
	}
	if !listed("pr-live") {
		t.Errorf("after a tick pr-live, made in the store, is not listed")
	}
	if !listed("pr-api") {
		t.Errorf("pr-api is gone before its time ran out")
	}
	time.Sleep(1100 * time.Millisecond)
	x.server.Tick(ctx)
	if n := x.count("env.destroy", "pr-api"); n != 1 || listed("pr-api") {
		t.Errorf("after its time ran out pr-api was destroyed %d times (want once), listed: %v", n, listed("pr-api"))
	}
	if !listed("pr-live") {
		t.Errorf("pr-live, not expired, is gone")
	}
}
