package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// freezableEstate's deploy step says it started (scratch file "started-VERSION"), waits
// for the scratch file "go", and fails for a version whose "sick-VERSION" exists.
const freezableEstate = `project: freezable
environments:
  staging: {}
services:
  api:
    deploy: 'touch "@SCRATCH@/started-$STRATA_VERSION"; while [ ! -e "@SCRATCH@/go" ]; do sleep 0.02; done; test ! -e "@SCRATCH@/sick-$STRATA_VERSION"'
    rollback: previous
`

func TestAFreezeHoldsRollbacksSomeoneAsksForButNotTheAutomaticOne(t *testing.T) {
	w := newWorld(t, freezableEstate)
	ctx := t.Context()
	e := w.engine()
	w.write("go", "")
	w.ship(e, "api", "0", "staging")
	w.ship(e, "api", "1", "staging")
	if _, err := e.Release(ctx, "api", "2"); err != nil {
		t.Fatal(err)
	}
	w.write("sick-2", "")

	// api@2 starts, the environment is frozen while its step runs, and the step fails: the
	// automatic rollback still returns staging to api@1.
	must(t, os.Remove(filepath.Join(w.scratch, "go")))
	done := make(chan error, 1)
	go func() {
		_, err := e.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "2", Env: "staging"})
		done <- err
	}()
	waitUntil(t, "api@2's step to start", func() bool { _, err := os.Stat(filepath.Join(w.scratch, "started-2")); return err == nil })
	must(t, w.store.SetFreeze(ctx, "staging", &strata.Freeze{Environment: "staging", Reason: "incident 42", Actor: "cy"}, &strata.Event{Actor: "cy", Action: "freeze", Environment: "staging"}))
	w.write("go", "")
	if err := <-done; strata.ErrorCode(err) != strata.EFAILED || !strings.Contains(err.Error(), "rolled back to 1") {
		t.Fatalf("deploy of a failing release while a freeze was set = %v; want failed and rolled back to 1", err)
	}

	t.Run("a rollback someone asks for is held by the freeze, naming it", func(t *testing.T) {
		_, err := e.Rollback(ctx, "api", "staging", "")
		if strata.ErrorCode(err) != strata.EBLOCKED || !strings.Contains(err.Error(), "gate freeze: staging is frozen by cy (incident 42)") {
			t.Errorf("rollback into a frozen environment = %v; want EBLOCKED naming the freeze gate", err)
		}
	})
	t.Run("an override without a reason is refused", func(t *testing.T) {
		_, err := e.RollbackWith(ctx, engine.RollbackRequest{Service: "api", Env: "staging", To: "1", OverrideFreeze: true})
		if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), "--override-freeze needs --reason") {
			t.Errorf("override without a reason = %v; want EINVALID", err)
		}
	})
	t.Run("a deploy cannot override a freeze", func(t *testing.T) {
		_, err := e.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "1", Env: "staging", OverrideFreeze: true, Reason: "x"})
		if strata.ErrorCode(err) != strata.EINVALID {
			t.Errorf("deploy with a freeze override = %v; want EINVALID", err)
		}
	})
	t.Run("an override with a reason rolls back, and the audit log keeps why", func(t *testing.T) {
		d, err := e.RollbackWith(ctx, engine.RollbackRequest{Service: "api", Env: "staging", OverrideFreeze: true, Reason: "INC-42 needs 0"})
		if err != nil || d.State != strata.Succeeded || d.Kind != engine.KindRollback || d.Version != "0" {
			t.Fatalf("overridden rollback = %+v, %v", d, err)
		}
		evs, err := w.store.Events(ctx, strata.EventFilter{Action: "rollback"})
		must(t, err)
		found := false
		for _, ev := range evs {
			found = found || (strings.Contains(string(ev.Detail), `"override_freeze":true`) && strings.Contains(string(ev.Detail), "INC-42 needs 0"))
		}
		if !found {
			t.Errorf("no rollback event records the override and its reason: %d events", len(evs))
		}
	})
}
