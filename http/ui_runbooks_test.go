package http_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

func TestRunbooksRunFromTheEnvironmentPage(t *testing.T) {
	x := newUIEstate(t, uiYAML)

	t.Run("a viewer sees the runbooks but no run button", func(t *testing.T) {
		_, page := x.login(t, "victor").get("/environments/dev")
		if !strings.Contains(page, `id="runbooks"`) || !strings.Contains(page, "reindexing $STRATA_SERVICE") || strings.Contains(page, `class="run"`) {
			t.Fatalf("viewer's page:\n%s", page)
		}
	})

	t.Run("a deployer runs one; the page says how it went and lists it, output stored redacted", func(t *testing.T) {
		b := x.login(t, "alice")
		b.post("/environments/dev/runs", url.Values{"csrf": {b.csrf()}, "service": {"api"}, "task": {"reindex"}, "reason": {"stale index"}})
		_, page := b.get("/environments/dev")
		if !strings.Contains(page, "succeeded") || !strings.Contains(page, `id="task-runs"`) {
			t.Fatalf("after the run:\n%s", page)
		}
		runs, err := x.store.TaskRuns(context.Background(), strata.TaskRunFilter{Environment: "dev"})
		if err != nil || len(runs) != 1 || runs[0].Requester != "alice" || runs[0].Output != "reindexing api in dev\n" {
			t.Fatalf("runs %+v, %v", runs, err)
		}
	})

	t.Run("a run that needs an approval waits; its requester has no approve button, an approver's runs it", func(t *testing.T) {
		a := x.login(t, "alice")
		a.post("/environments/dev/runs", url.Values{"csrf": {a.csrf()}, "service": {"api"}, "task": {"rotate"}, "reason": {"yearly"}})
		_, page := a.get("/environments/dev")
		if !strings.Contains(page, "waits for approval") || strings.Contains(page, `action="/runs/t-`) {
			t.Fatalf("requester's page after asking:\n%s", page)
		}
		runs, _ := x.store.TaskRuns(context.Background(), strata.TaskRunFilter{Environment: "dev", States: []string{strata.RunWaiting}})
		if len(runs) != 1 {
			t.Fatalf("waiting runs: %v", runs)
		}
		b := x.login(t, "bob")
		_, page = b.get("/environments/dev")
		if !strings.Contains(page, `action="/runs/`+runs[0].ID+`/approve"`) {
			t.Fatalf("approver's page has no approve button:\n%s", page)
		}
		b.post("/runs/"+runs[0].ID+"/approve", url.Values{"csrf": {b.csrf()}})
		got, err := x.store.TaskRun(context.Background(), runs[0].ID)
		if err != nil || got.State != strata.RunSucceeded || len(got.Approvals) != 1 || got.Approvals[0].Principal != "bob" {
			t.Fatalf("after bob's approval: %+v, %v", got, err)
		}
	})

	t.Run("a form without the session's CSRF token runs nothing", func(t *testing.T) {
		b := x.login(t, "alice")
		before, _ := x.store.TaskRuns(context.Background(), strata.TaskRunFilter{})
		b.post("/environments/dev/runs", url.Values{"csrf": {"forged"}, "service": {"api"}, "task": {"reindex"}})
		after, _ := x.store.TaskRuns(context.Background(), strata.TaskRunFilter{})
		if len(after) != len(before) {
			t.Fatal("a forged form ran a task")
		}
	})
}

func TestARunbookOfAPoolsEnvironmentIsQueuedFromThePageNotWaitedFor(t *testing.T) {
	yaml := strings.Replace(uiYAML, "  prod-eu:\n", "  edge:\n    labels: {tier: edge}\n    runs_on: eu\n  prod-eu:\n", 1)
	yaml = strings.Replace(yaml, "  web:\n    deploy: \"echo web up\"\n", "  web:\n    deploy: \"echo web up\"\n    runbooks:\n      flush: \"echo flushing\"\n", 1)
	x := newUIEstate(t, yaml)
	b := x.login(t, "alice")
	// No agent of pool eu runs: the request returns with the run queued.
	b.post("/environments/edge/runs", url.Values{"csrf": {b.csrf()}, "service": {"web"}, "task": {"flush"}, "reason": {"cache stale"}})
	_, page := b.get("/environments/edge")
	if !strings.Contains(page, "queued for an agent of pool eu") || !strings.Contains(page, "waiting for an agent of pool eu") {
		t.Fatalf("after asking:\n%s", page)
	}
	runs, err := x.store.TaskRuns(context.Background(), strata.TaskRunFilter{Environment: "edge"})
	if err != nil || len(runs) != 1 || runs[0].State != strata.RunRunning || runs[0].Pool != "eu" || runs[0].Agent != "" {
		t.Fatalf("runs %+v, %v; want one queued for pool eu", runs, err)
	}
}
