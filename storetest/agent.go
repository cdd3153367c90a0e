package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// testAgents: agents register and are listed; a deployment for a pool waits pending until an
// agent of the pool claims it, and each claim grows its fence, which every later renewal and
// report must carry.
func testAgents(t *testing.T, open func(t *testing.T) strata.Store) {
	// The claims pass their own times: the store's clock (a test's, or the wall clock) is
	// nowhere near them, and a lease lapses by what the claim says is now.
	t0 := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
	pending := func(t *testing.T, s strata.Store, env string) *strata.Deployment {
		t.Helper()
		d := &strata.Deployment{Service: "api", Environment: env, Version: "1.0.0", State: strata.Pending, Attempt: 1,
			Kind: "deploy", Pool: "eu", Job: []byte(`{"command":"./deploy.sh"}`)}
		return create(t, s, d)
	}
	claim := func(agent string, now time.Time, envs ...string) strata.JobClaim {
		return strata.JobClaim{Pool: "eu", Envs: envs, Agent: agent, Now: now, Until: now.Add(30 * time.Second)}
	}
	t.Run("a pending deployment of a pool is claimed with its job, its fence grown", func(t *testing.T) {
		s := open(t)
		d := pending(t, s, "prod-eu")
		got, err := s.ClaimJob(ctx(t), claim("eu-1", t0, "prod-eu"), &strata.Event{Actor: "eu-1", Action: "agent.claim"})
		must(t, err)
		if got.ID != d.ID || got.State != strata.Running || got.Fence != 1 || got.Attempt != 1 || got.Agent != "eu-1" ||
			got.Owner != strata.AgentOwner("eu-1", 1) || string(got.Job) != `{"command":"./deploy.sh"}` || got.Pool != "eu" {
			t.Errorf("claimed %+v (job %s); want %s running, fence 1, attempt 1, owned by eu-1 with its job", got, got.Job, d.ID)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{Action: "agent.claim"})
		must(t, err)
		if len(evs) != 1 || evs[0].Subject != d.ID || evs[0].Environment != "prod-eu" {
			t.Errorf("agent.claim events %+v, want one about %s in prod-eu", evs, d.ID)
		}
		_, err = s.ClaimJob(ctx(t), claim("eu-2", t0.Add(time.Second), "prod-eu"), nil)
		wantCode(t, err, strata.ENOTFOUND)
	})
	t.Run("a deployment's job is read by its id, nil for a deployment with none", func(t *testing.T) {
		s := open(t)
		d := pending(t, s, "prod-eu")
		job, err := s.Job(ctx(t), d.ID)
		must(t, err)
		if string(job) != `{"command":"./deploy.sh"}` {
			t.Errorf("job %q", job)
		}
		local := create(t, s, deployment("api", "dev", 1))
		job, err = s.Job(ctx(t), local.ID)
		must(t, err)
		if job != nil {
			t.Errorf("a deployment for no pool has job %q", job)
		}
		_, err = s.Job(ctx(t), "d-missing")
		wantCode(t, err, strata.ENOTFOUND)
	})
	t.Run("a claim takes only its pool and the environments it covers", func(t *testing.T) {
		s := open(t)
		pending(t, s, "prod-eu")
		_, err := s.ClaimJob(ctx(t), claim("eu-1", t0, "prod-us"), nil)
		wantCode(t, err, strata.ENOTFOUND)
		c := claim("us-1", t0, "prod-eu")
		c.Pool = "us"
		_, err = s.ClaimJob(ctx(t), c, nil)
		wantCode(t, err, strata.ENOTFOUND)
		_, err = s.ClaimJob(ctx(t), claim("eu-1", t0), nil)
		wantCode(t, err, strata.ENOTFOUND)
		local := create(t, s, deployment("api", "dev", 1))
		if local.Pool != "" || local.Fence != 0 {
			t.Errorf("a deployment for no pool got pool %q fence %d", local.Pool, local.Fence)
		}
	})
	t.Run("a claim for every environment of its pool takes any of them, and no other pool's", func(t *testing.T) {
		s := open(t)
		us := &strata.Deployment{Service: "api", Environment: "prod-us", Version: "1.0.0", State: strata.Pending, Attempt: 1,
			Kind: "deploy", Pool: "us", Job: []byte(`{}`)}
		create(t, s, us)
		d := pending(t, s, "prod-eu-2")
		c := claim("eu-1", t0, "prod-eu")
		c.AllEnvs = true
		got, err := s.ClaimJob(ctx(t), c, nil)
		must(t, err)
		if got.ID != d.ID {
			t.Errorf("claimed %s in %s, want %s of pool eu", got.ID, got.Environment, d.ID)
		}
		_, err = s.ClaimJob(ctx(t), c, nil)
		wantCode(t, err, strata.ENOTFOUND)
	})
	t.Run("renewing or reporting with an old fence is refused", func(t *testing.T) {
		s := open(t)
		pending(t, s, "prod-eu")
		first, err := s.ClaimJob(ctx(t), claim("eu-1", t0, "prod-eu"), nil)
		must(t, err)
		// The lease lapses; the next claim is the next attempt.
		second, err := s.ClaimJob(ctx(t), claim("eu-2", t0.Add(time.Minute), "prod-eu"), nil)
		must(t, err)
		if second.ID != first.ID || second.Fence != 2 || second.Attempt != 2 || second.Owner != strata.AgentOwner("eu-2", 2) {
			t.Fatalf("the claim after the lapse: fence %d attempt %d owner %+v; want fence 2, attempt 2, eu-2", second.Fence, second.Attempt, second.Owner)
		}
		wantCode(t, s.RenewLease(ctx(t), first.ID, strata.AgentOwner("eu-1", 1), t0.Add(2*time.Minute)), strata.ECONFLICT)
		report := *first
		report.State, report.Health = strata.Succeeded, strata.Healthy
		wantCode(t, s.UpdateDeployment(ctx(t), &report, nil), strata.ECONFLICT)
		must(t, s.RenewLease(ctx(t), second.ID, second.Owner, t0.Add(2*time.Minute)))
		done := *second
		done.State = strata.Succeeded
		must(t, s.UpdateDeployment(ctx(t), &done, &strata.Event{Actor: "eu-2", Action: "deployment.succeeded"}))
		got, err := s.Deployment(ctx(t), first.ID)
		must(t, err)
		if got.State != strata.Succeeded || got.Attempt != 2 || got.Agent != "eu-2" || got.Fence != 2 || got.Owner.ID() != "" {
			t.Errorf("after the report: %+v; want succeeded in attempt 2 by eu-2, fence 2, no owner", got)
		}
	})
	t.Run("a claim whose answer was lost is given again to its agent only, with its fence and a new lease", func(t *testing.T) {
		s := open(t)
		pending(t, s, "prod-eu")
		claimed, err := s.ClaimJob(ctx(t), claim("eu-1", t0, "prod-eu"), &strata.Event{Actor: "eu-1", Action: "agent.claim"})
		must(t, err)
		held := func(agent string, now, since time.Time, envs ...string) strata.JobClaim {
			c := claim(agent, now, envs...)
			c.Since = since
			return c
		}
		cases := []struct {
			name string
			c    strata.JobClaim
		}{
			{"another agent of the pool holds nothing", held("eu-2", t0.Add(time.Second), t0, "prod-eu")},
			{"a claim before since is one the agent heard of", held("eu-1", t0.Add(time.Second), t0.Add(time.Nanosecond), "prod-eu")},
			{"a lapsed lease holds nothing", held("eu-1", t0.Add(31*time.Second), t0, "prod-eu")},
			{"an environment the token does not cover holds nothing", held("eu-1", t0.Add(time.Second), t0, "prod-us")},
			{"a token that covers no environment holds nothing", held("eu-1", t0.Add(time.Second), t0)},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := s.HeldJob(ctx(t), c.c)
				wantCode(t, err, strata.ENOTFOUND)
			})
		}
		again, err := s.HeldJob(ctx(t), held("eu-1", t0.Add(10*time.Second), t0, "prod-eu"))
		must(t, err)
		if again.ID != claimed.ID || again.Fence != 1 || again.Attempt != 1 || again.Owner != strata.AgentOwner("eu-1", 1) ||
			!again.LeaseUntil.Equal(t0.Add(40*time.Second)) || string(again.Job) != `{"command":"./deploy.sh"}` {
			t.Errorf("held %+v (job %s); want %s again, fence 1, attempt 1, its lease until %s", again, again.Job, claimed.ID, t0.Add(40*time.Second))
		}
		// The lease was renewed: at t0+35s the deployment is still eu-1's.
		_, err = s.ClaimJob(ctx(t), claim("eu-2", t0.Add(35*time.Second), "prod-eu"), nil)
		wantCode(t, err, strata.ENOTFOUND)
		evs, err := s.Events(ctx(t), strata.EventFilter{Action: "agent.claim"})
		must(t, err)
		if len(evs) != 1 {
			t.Errorf("%d agent.claim events, want 1: giving a claim again is not another claim", len(evs))
		}
		done := *again
		done.State = strata.Succeeded
		must(t, s.UpdateDeployment(ctx(t), &done, nil))
		_, err = s.HeldJob(ctx(t), held("eu-1", t0.Add(11*time.Second), t0, "prod-eu"))
		wantCode(t, err, strata.ENOTFOUND)
	})
	t.Run("a lease that has not lapsed keeps the deployment from a second claim", func(t *testing.T) {
		s := open(t)
		pending(t, s, "prod-eu")
		_, err := s.ClaimJob(ctx(t), claim("eu-1", t0, "prod-eu"), nil)
		must(t, err)
		_, err = s.ClaimJob(ctx(t), claim("eu-2", t0.Add(29*time.Second), "prod-eu"), nil)
		wantCode(t, err, strata.ENOTFOUND)
	})
	t.Run("concurrent claimers each get a different deployment", func(t *testing.T) {
		s := open(t)
		envs := []string{"e0", "e1", "e2", "e3", "e4", "e5"}
		for _, e := range envs {
			pending(t, s, e)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[string]string{}
		for i := range 8 {
			wg.Go(func() {
				agent := "a" + string(rune('0'+i))
				for {
					d, err := s.ClaimJob(ctx(t), claim(agent, t0, envs...), nil)
					if strata.ErrorCode(err) == strata.ENOTFOUND {
						return
					}
					if strata.ErrorCode(err) == strata.ECONFLICT {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if other, ok := seen[d.ID]; ok {
						t.Errorf("%s was claimed by %s and %s", d.ID, other, agent)
					}
					seen[d.ID] = agent
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != len(envs) {
			t.Errorf("claimed %d deployments, want %d", len(seen), len(envs))
		}
	})
	t.Run("agents register, beat and are listed by name", func(t *testing.T) {
		s := open(t)
		b := &strata.Agent{Name: "eu-b", Pool: "eu", Version: "1.2.0", Protocol: 1, Token: "eu-agent", LastSeen: t0}
		must(t, s.SeeAgent(ctx(t), b, true))
		must(t, s.SeeAgent(ctx(t), &strata.Agent{Name: "eu-a", Pool: "eu", LastSeen: t0}, true))
		must(t, s.SeeAgent(ctx(t), &strata.Agent{Name: "eu-b", Pool: "eu", LastSeen: t0.Add(time.Minute)}, false))
		wantCode(t, s.SeeAgent(ctx(t), &strata.Agent{Name: "ghost", Pool: "eu"}, false), strata.ENOTFOUND)
		wantCode(t, s.SeeAgent(ctx(t), &strata.Agent{Name: "no-pool"}, true), strata.EINVALID)
		as, err := s.Agents(ctx(t))
		must(t, err)
		if len(as) != 2 || as[0].Name != "eu-a" || as[1].Name != "eu-b" {
			t.Fatalf("agents %+v, want eu-a and eu-b", as)
		}
		got := as[1]
		if got.Version != "1.2.0" || got.Protocol != 1 || got.Token != "eu-agent" || !sameTime(got.ConnectedSince, t0) || !sameTime(got.LastSeen, t0.Add(time.Minute)) {
			t.Errorf("eu-b %+v; want version 1.2.0, connected since %v, last seen a minute later", got, t0)
		}
	})
}
