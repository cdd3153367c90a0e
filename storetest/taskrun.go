package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/strata-dev/strata"
)

func taskRun(env, state string) *strata.TaskRun {
	return &strata.TaskRun{Service: "api", Environment: env, Task: "reindex", State: state, Requester: "alice", Reason: "index drift"}
}

func testTaskRuns(t *testing.T, open func(t *testing.T) strata.Store) {
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("a waiting run is approved once per principal, claimed once, and ended by its owner", func(t *testing.T) {
		s := open(t)
		r := taskRun("prod", strata.RunWaiting)
		must(t, s.CreateTaskRun(ctx(t), r, &strata.Event{Actor: "alice", Action: "run.request"}))
		if r.ID == "" || r.ExitCode != -1 {
			t.Fatalf("created %+v, want an id and exit code -1", r)
		}
		must(t, s.ApproveTaskRun(ctx(t), r.ID, strata.Approval{Principal: "bob"}, nil))
		wantCode(t, s.ApproveTaskRun(ctx(t), r.ID, strata.Approval{Principal: "bob"}, nil), strata.ECONFLICT)
		must(t, s.ClaimTaskRun(ctx(t), r.ID, owner(1), until, nil, nil))
		wantCode(t, s.ClaimTaskRun(ctx(t), r.ID, owner(2), until, nil, nil), strata.ECONFLICT)
		wantCode(t, s.ApproveTaskRun(ctx(t), r.ID, strata.Approval{Principal: "carol"}, nil), strata.ECONFLICT)
		got, err := s.TaskRun(ctx(t), r.ID)
		must(t, err)
		if got.State != strata.RunRunning || got.Owner != owner(1) || len(got.Approvals) != 1 || got.Approvals[0].Principal != "bob" {
			t.Fatalf("after the claim: %+v", got)
		}
		end := *got
		end.State, end.ExitCode, end.Output, end.FinishedAt = strata.RunSucceeded, 0, "reindexed 12 rows\n", until
		end.Owner = owner(2)
		wantCode(t, s.UpdateTaskRun(ctx(t), &end, nil), strata.ECONFLICT)
		end.Owner = owner(1)
		must(t, s.UpdateTaskRun(ctx(t), &end, &strata.Event{Actor: "alice", Action: "run.succeeded"}))
		wantCode(t, s.UpdateTaskRun(ctx(t), &end, nil), strata.ECONFLICT)
		got, err = s.TaskRun(ctx(t), r.ID)
		must(t, err)
		if got.State != strata.RunSucceeded || got.ExitCode != 0 || got.Output != "reindexed 12 rows\n" || got.Owner != (strata.Owner{}) {
			t.Fatalf("after the end: %+v", got)
		}
	})

	t.Run("runs are listed newest first and filtered", func(t *testing.T) {
		s := open(t)
		a, b := taskRun("prod", strata.RunWaiting), taskRun("dev", strata.RunRunning)
		b.Owner, b.LeaseUntil = owner(1), until
		must(t, s.CreateTaskRun(ctx(t), a, nil))
		must(t, s.CreateTaskRun(ctx(t), b, nil))
		all, err := s.TaskRuns(ctx(t), strata.TaskRunFilter{})
		must(t, err)
		if len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
			t.Fatalf("runs %v, want %s then %s", all, b.ID, a.ID)
		}
		prod, err := s.TaskRuns(ctx(t), strata.TaskRunFilter{Environment: "prod", States: []string{strata.RunWaiting}})
		must(t, err)
		if len(prod) != 1 || prod[0].ID != a.ID {
			t.Fatalf("prod's waiting runs %v, want %s", prod, a.ID)
		}
		_, err = s.TaskRun(ctx(t), "t-nope")
		wantCode(t, err, strata.ENOTFOUND)
		wantCode(t, s.CreateTaskRun(ctx(t), &strata.TaskRun{Service: "api", Environment: "dev", Task: "x", State: strata.RunSucceeded}, nil), strata.EINVALID)
	})

	testRunClaims(t, open)
}

// testRunClaims: a run of a pool is queued (running, fence 0) until an agent of the pool
// claims it, once; its renewals and its ending need the claim's owner, and a lapsed claim is
// never taken again.
func testRunClaims(t *testing.T, open func(t *testing.T) strata.Store) {
	t0 := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
	queued := func(t *testing.T, s strata.Store, env string) *strata.TaskRun {
		t.Helper()
		r := taskRun(env, strata.RunRunning)
		r.Pool, r.Job = "eu", []byte(`{"kind":"run","command":"./ops/reindex.sh"}`)
		must(t, s.CreateTaskRun(ctx(t), r, nil))
		return r
	}
	claim := func(agent string, now time.Time, envs ...string) strata.JobClaim {
		return strata.JobClaim{Pool: "eu", Envs: envs, Agent: agent, Now: now, Until: now.Add(30 * time.Second)}
	}
	t.Run("a queued run of a pool is claimed once, with its job, by an agent its environment is covered for", func(t *testing.T) {
		s := open(t)
		r := queued(t, s, "prod-eu")
		_, err := s.ClaimRunJob(ctx(t), claim("eu-1", t0, "prod-us"), nil)
		wantCode(t, err, strata.ENOTFOUND)
		got, err := s.ClaimRunJob(ctx(t), claim("eu-1", t0, "prod-eu"), &strata.Event{Actor: "eu-agent", Action: "agent.claim"})
		must(t, err)
		if got.ID != r.ID || got.State != strata.RunRunning || got.Fence != 1 || got.Agent != "eu-1" || got.Pool != "eu" || got.Kind != strata.TaskRunbook ||
			got.Owner != strata.AgentOwner("eu-1", 1) || string(got.Job) != `{"kind":"run","command":"./ops/reindex.sh"}` ||
			!got.StartedAt.Equal(t0) || !got.LeaseUntil.Equal(t0.Add(30*time.Second)) {
			t.Errorf("claimed %+v (job %s); want %s running, fence 1, owned by eu-1 with its job", got, got.Job, r.ID)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{Action: "agent.claim"})
		must(t, err)
		if len(evs) != 1 || evs[0].Subject != r.ID || evs[0].Environment != "prod-eu" {
			t.Errorf("agent.claim events %+v, want one about %s in prod-eu", evs, r.ID)
		}
		_, err = s.ClaimRunJob(ctx(t), claim("eu-2", t0.Add(time.Second), "prod-eu"), nil)
		wantCode(t, err, strata.ENOTFOUND)
	})
	t.Run("a run whose agent's lease lapsed is not claimed again", func(t *testing.T) {
		s := open(t)
		queued(t, s, "prod-eu")
		_, err := s.ClaimRunJob(ctx(t), claim("eu-1", t0, "prod-eu"), nil)
		must(t, err)
		_, err = s.ClaimRunJob(ctx(t), claim("eu-2", t0.Add(time.Hour), "prod-eu"), nil)
		wantCode(t, err, strata.ENOTFOUND)
	})
	t.Run("a run whose claim's answer was lost is given again to its agent only, never claimed again", func(t *testing.T) {
		s := open(t)
		r := queued(t, s, "prod-eu")
		_, err := s.ClaimRunJob(ctx(t), claim("eu-1", t0, "prod-eu"), nil)
		must(t, err)
		held := func(agent string, now, since time.Time, env string, kinds ...string) strata.JobClaim {
			c := claim(agent, now, env)
			c.Since, c.TaskKinds = since, kinds
			return c
		}
		cases := []struct {
			name string
			c    strata.JobClaim
		}{
			{"another agent of the pool holds nothing", held("eu-2", t0.Add(time.Second), t0, "prod-eu")},
			{"a claim before since is one the agent heard of", held("eu-1", t0.Add(time.Second), t0.Add(time.Nanosecond), "prod-eu")},
			{"a lapsed lease holds nothing", held("eu-1", t0.Add(31*time.Second), t0, "prod-eu")},
			{"a kind the claim does not name is not given", held("eu-1", t0.Add(time.Second), t0, "prod-eu", strata.TaskDestroy)},
			{"an environment the token does not cover holds nothing", held("eu-1", t0.Add(time.Second), t0, "prod-us")},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := s.HeldRunJob(ctx(t), c.c)
				wantCode(t, err, strata.ENOTFOUND)
			})
		}
		again, err := s.HeldRunJob(ctx(t), held("eu-1", t0.Add(10*time.Second), t0, "prod-eu", strata.TaskRunbook))
		must(t, err)
		if again.ID != r.ID || again.Fence != 1 || again.Owner != strata.AgentOwner("eu-1", 1) || !again.StartedAt.Equal(t0) ||
			!again.LeaseUntil.Equal(t0.Add(40*time.Second)) || string(again.Job) != `{"kind":"run","command":"./ops/reindex.sh"}` {
			t.Errorf("held %+v (job %s); want %s again, fence 1, started at %s, its lease until %s", again, again.Job, r.ID, t0, t0.Add(40*time.Second))
		}
		_, err = s.ClaimRunJob(ctx(t), claim("eu-2", t0.Add(time.Hour), "prod-eu"), nil)
		wantCode(t, err, strata.ENOTFOUND)
	})
	t.Run("the oldest queued run is claimed first, and a token covering the whole pool takes any", func(t *testing.T) {
		s := open(t)
		first := queued(t, s, "prod-eu")
		second := queued(t, s, "prod-eu2")
		c := claim("eu-1", t0, "prod-eu", "prod-eu2")
		c.AllEnvs = true
		a, err := s.ClaimRunJob(ctx(t), c, nil)
		must(t, err)
		b, err := s.ClaimRunJob(ctx(t), c, nil)
		must(t, err)
		if a.ID != first.ID || b.ID != second.ID {
			t.Errorf("claimed %s then %s, want %s then %s", a.ID, b.ID, first.ID, second.ID)
		}
	})
	t.Run("waiting runs, runs for no pool and runs of another pool are not claimed", func(t *testing.T) {
		s := open(t)
		w := taskRun("prod-eu", strata.RunWaiting)
		w.Pool, w.Job = "eu", []byte(`{}`)
		must(t, s.CreateTaskRun(ctx(t), w, nil))
		local := taskRun("prod-eu", strata.RunRunning)
		local.Owner, local.LeaseUntil = owner(1), t0
		must(t, s.CreateTaskRun(ctx(t), local, nil))
		other := taskRun("prod-eu", strata.RunRunning)
		other.Pool, other.Job = "us", []byte(`{}`)
		must(t, s.CreateTaskRun(ctx(t), other, nil))
		_, err := s.ClaimRunJob(ctx(t), claim("eu-1", t0, "prod-eu"), nil)
		wantCode(t, err, strata.ENOTFOUND)
		// Approved, the waiting one is queued for the pool (claimed by no one) and then taken.
		// Its job is made again as it is queued: the config and secrets of now.
		must(t, s.ClaimTaskRun(ctx(t), w.ID, strata.Owner{}, time.Time{}, []byte(`{"made":"at approval"}`), nil))
		got, err := s.ClaimRunJob(ctx(t), claim("eu-1", t0, "prod-eu"), nil)
		must(t, err)
		if got.ID != w.ID {
			t.Errorf("claimed %s, want the approved %s", got.ID, w.ID)
		}
		if string(got.Job) != `{"made":"at approval"}` {
			t.Errorf("claimed job %s, want the one made at approval", got.Job)
		}
	})
	t.Run("a claim takes only the kinds of task run it names", func(t *testing.T) {
		s := open(t)
		d := taskRun("prod-eu", strata.RunRunning)
		d.Task, d.Kind, d.Pool, d.Job = "destroy", strata.TaskDestroy, "eu", []byte(`{"kind":"destroy"}`)
		must(t, s.CreateTaskRun(ctx(t), d, nil))
		runs := claim("eu-1", t0, "prod-eu")
		runs.TaskKinds = []string{strata.TaskRunbook}
		_, err := s.ClaimRunJob(ctx(t), runs, nil)
		wantCode(t, err, strata.ENOTFOUND)
		both := claim("eu-1", t0, "prod-eu")
		both.TaskKinds = []string{strata.TaskRunbook, strata.TaskDestroy}
		got, err := s.ClaimRunJob(ctx(t), both, nil)
		must(t, err)
		if got.ID != d.ID || got.Kind != strata.TaskDestroy {
			t.Errorf("claimed %+v, want the destroy %s", got, d.ID)
		}
		wantCode(t, s.CreateTaskRun(ctx(t), &strata.TaskRun{Service: "api", Environment: "dev", Task: "x", Kind: "teleport", State: strata.RunRunning}, nil), strata.EINVALID)
		listed, err := s.TaskRuns(ctx(t), strata.TaskRunFilter{Kinds: []string{strata.TaskDestroy}})
		must(t, err)
		if len(listed) != 1 || listed[0].ID != d.ID {
			t.Errorf("destroy runs %+v, want %s", listed, d.ID)
		}
		listed, err = s.TaskRuns(ctx(t), strata.TaskRunFilter{Kinds: []string{strata.TaskObserve}})
		must(t, err)
		if len(listed) != 0 {
			t.Errorf("observe runs %+v, want none", listed)
		}
	})
	t.Run("a health check run again on an agent is claimed only by a claim naming health", func(t *testing.T) {
		s := open(t)
		h := taskRun("prod-eu", strata.RunRunning)
		h.Task, h.Kind, h.Pool, h.Job = "health", strata.TaskHealth, "eu", []byte(`{"kind":"health"}`)
		must(t, s.CreateTaskRun(ctx(t), h, nil))
		older := claim("eu-1", t0, "prod-eu")
		older.TaskKinds = []string{strata.TaskRunbook, strata.TaskDestroy, strata.TaskObserve}
		_, err := s.ClaimRunJob(ctx(t), older, nil)
		wantCode(t, err, strata.ENOTFOUND)
		newer := claim("eu-1", t0, "prod-eu")
		newer.TaskKinds = strata.TaskKinds()
		got, err := s.ClaimRunJob(ctx(t), newer, nil)
		must(t, err)
		if got.ID != h.ID || got.Kind != strata.TaskHealth || string(got.Job) != `{"kind":"health"}` {
			t.Errorf("claimed %+v (job %s), want the health check %s", got, got.Job, h.ID)
		}
		listed, err := s.TaskRuns(ctx(t), strata.TaskRunFilter{Kinds: []string{strata.TaskHealth}})
		must(t, err)
		if len(listed) != 1 || listed[0].ID != h.ID {
			t.Errorf("health runs %+v, want %s", listed, h.ID)
		}
	})
	t.Run("a claimed run is renewed and ended only by its claim", func(t *testing.T) {
		s := open(t)
		r := queued(t, s, "prod-eu")
		got, err := s.ClaimRunJob(ctx(t), claim("eu-1", t0, "prod-eu"), nil)
		must(t, err)
		must(t, s.RenewTaskRun(ctx(t), r.ID, got.Owner, t0.Add(time.Minute)))
		wantCode(t, s.RenewTaskRun(ctx(t), r.ID, strata.AgentOwner("eu-2", 1), t0.Add(time.Minute)), strata.ECONFLICT)
		wantCode(t, s.RenewTaskRun(ctx(t), "t-nope", got.Owner, t0.Add(time.Minute)), strata.ENOTFOUND)
		end := *got
		end.State, end.ExitCode, end.Output, end.FinishedAt = strata.RunFailed, 3, "boom\n", t0.Add(time.Minute)
		end.Owner = strata.AgentOwner("eu-2", 1)
		wantCode(t, s.UpdateTaskRun(ctx(t), &end, nil), strata.ECONFLICT)
		end.Owner = got.Owner
		must(t, s.UpdateTaskRun(ctx(t), &end, nil))
		wantCode(t, s.RenewTaskRun(ctx(t), r.ID, got.Owner, t0.Add(2*time.Minute)), strata.ECONFLICT)
		back, err := s.TaskRun(ctx(t), r.ID)
		must(t, err)
		if back.State != strata.RunFailed || back.ExitCode != 3 || back.Agent != "eu-1" || back.Pool != "eu" || back.Job != nil {
			t.Errorf("after the end: %+v", back)
		}
	})
	t.Run("a claimed run's output so far grows by its claim's pieces up to the cap, and its ending writes the whole", func(t *testing.T) {
		s := open(t)
		r := queued(t, s, "prod-eu")
		got, err := s.ClaimRunJob(ctx(t), claim("eu-1", t0, "prod-eu"), nil)
		must(t, err)
		must(t, s.AppendTaskRunOutput(ctx(t), r.ID, got.Owner, "migrating 1/3\n"))
		must(t, s.AppendTaskRunOutput(ctx(t), r.ID, got.Owner, "migrating 2/3\n"))
		wantCode(t, s.AppendTaskRunOutput(ctx(t), r.ID, strata.AgentOwner("eu-1", 2), "not the claim's\n"), strata.ECONFLICT)
		wantCode(t, s.AppendTaskRunOutput(ctx(t), r.ID, strata.AgentOwner("eu-2", 1), "not the claim's\n"), strata.ECONFLICT)
		wantCode(t, s.AppendTaskRunOutput(ctx(t), "t-nope", got.Owner, "x"), strata.ENOTFOUND)
		back, err := s.TaskRun(ctx(t), r.ID)
		must(t, err)
		if back.Output != "migrating 1/3\nmigrating 2/3\n" || back.State != strata.RunRunning {
			t.Fatalf("output so far %q (%s), want the claim's two pieces, running", back.Output, back.State)
		}
		// A piece past the cap is cut on a character's start: "é" is two bytes.
		fill := strings.Repeat("é", strata.RunOutputCap/2)
		must(t, s.AppendTaskRunOutput(ctx(t), r.ID, got.Owner, fill))
		must(t, s.AppendTaskRunOutput(ctx(t), r.ID, got.Owner, "past the cap\n"))
		back, err = s.TaskRun(ctx(t), r.ID)
		must(t, err)
		if len(back.Output) > strata.RunOutputCap || len(back.Output) < strata.RunOutputCap-1 || !utf8.ValidString(back.Output) ||
			strings.Contains(back.Output, "past the cap") {
			t.Fatalf("output so far is %d bytes (valid UTF-8: %v), want the first %d bytes whole", len(back.Output), utf8.ValidString(back.Output), strata.RunOutputCap)
		}
		end := *got
		end.State, end.ExitCode, end.Output, end.FinishedAt = strata.RunSucceeded, 0, "the whole output\n", t0.Add(time.Minute)
		must(t, s.UpdateTaskRun(ctx(t), &end, nil))
		wantCode(t, s.AppendTaskRunOutput(ctx(t), r.ID, got.Owner, "late\n"), strata.ECONFLICT)
		back, err = s.TaskRun(ctx(t), r.ID)
		must(t, err)
		if back.Output != "the whole output\n" {
			t.Errorf("after the end the output is %q, want the ending's", back.Output)
		}
	})
	t.Run("concurrent claimers each get a different run", func(t *testing.T) {
		s := open(t)
		const n = 6
		for range n {
			queued(t, s, "prod-eu")
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					r, err := s.ClaimRunJob(ctx(t), claim("eu-"+string(rune('1'+i)), t0, "prod-eu"), nil)
					switch strata.ErrorCode(err) {
					case "":
						mu.Lock()
						seen[r.ID]++
						mu.Unlock()
					case strata.ECONFLICT, strata.EBLOCKED:
					case strata.ENOTFOUND:
						return
					default:
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("%d runs claimed, want %d", len(seen), n)
		}
		for id, k := range seen {
			if k != 1 {
				t.Errorf("%s claimed %d times", id, k)
			}
		}
	})
}
