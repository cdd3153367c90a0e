package storetest

import (
	"testing"
	"time"

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
		must(t, s.ClaimTaskRun(ctx(t), r.ID, owner(1), until, nil))
		wantCode(t, s.ClaimTaskRun(ctx(t), r.ID, owner(2), until, nil), strata.ECONFLICT)
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
}
