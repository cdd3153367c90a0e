package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/capbuf"
	"github.com/strata-dev/strata/secret"
	"github.com/strata-dev/strata/step"
)

// Running a switch: the group's switch step, recorded, and resumed when its process died.

// switchOutputCap bounds the switch step's output kept in the store.
const switchOutputCap = 64 << 10

// defaultSwitchTimeout bounds a switch step that names no timeout.
const defaultSwitchTimeout = 10 * time.Minute

// switchLease is how long a switch's owner holds it: the step's timeout and a minute.
func switchLease(g *strata.Group) time.Duration { return switchTimeout(g) + time.Minute }

func switchTimeout(g *strata.Group) time.Duration {
	if g != nil && g.Switch != nil && g.Switch.Timeout > 0 {
		return g.Switch.Timeout
	}
	return defaultSwitchTimeout
}

// executeSwitch runs the group's switch step for sw, which this process owns and the store
// holds running, and records how it ended: succeeded moves the live pointer in the same
// transaction.
func (e *Engine) executeSwitch(ctx context.Context, sw *strata.Switch, g *strata.Group) error {
	out := &capbuf.Buffer{Max: switchOutputCap}
	failure := e.runSwitchStep(ctx, sw, g, out)
	sw.Output, sw.FinishedAt = out.String(), e.now()
	if out.Cut {
		sw.Output += "\n… (cut: the first 64 KiB are kept)"
	}
	sw.State = strata.SwitchSucceeded
	if failure != "" {
		sw.State, sw.Error = strata.SwitchFailed, failure
	}
	detail := map[string]any{"group": sw.Group, "from": sw.From, "to": sw.To, "kind": sw.Kind, "reason": sw.Reason}
	if failure != "" {
		detail["error"] = failure
	}
	if err := e.Store.FinishSwitch(context.WithoutCancel(ctx), sw, e.event(sw.Kind+"."+sw.State, "", sw.To, sw.ID, detail)); err != nil {
		return fmt.Errorf("record switch %s: %w", sw.ID, err)
	}
	if failure != "" {
		e.logf("✗ %s %s → %s: %s", sw.Group, sw.From, sw.To, failure)
		return strata.Errorf(strata.EFAILED, "%s %s of %s to %s failed: %s; %s is still live", sw.Kind, sw.ID, sw.Group, sw.To, failure, sw.From)
	}
	e.logf("✓ %s: %s is live (was %s)", sw.Group, sw.To, sw.From)
	return nil
}

// runSwitchStep runs g's switch step and returns why it failed ("" when it succeeded, or
// when g has none). Its output, redacted of both members' secrets, goes to out and the
// terminal.
func (e *Engine) runSwitchStep(ctx context.Context, sw *strata.Switch, g *strata.Group, out io.Writer) string {
	if g.Switch == nil || g.Switch.Run == "" {
		return ""
	}
	vars := append([]string{}, e.BaseEnv...)
	vars = append(vars, "STRATA_PROJECT="+e.Project.Name, "STRATA_GROUP="+g.Name, "STRATA_FROM="+sw.From, "STRATA_TO="+sw.To,
		"STRATA_SWITCH="+sw.ID, "STRATA_KIND="+sw.Kind)
	ws := []io.Writer{out}
	if e.Log != nil {
		ws = append(ws, &linePrefixer{e: e, prefix: "  " + g.Name + " | "})
	}
	o := &output{redactor: secret.NewRedactor(io.MultiWriter(ws...), e.memberSecrets(sw.From, sw.To))}
	e.logf("▸ %s: switch %s → %s (%s)", g.Name, sw.From, sw.To, sw.ID)
	res, err := e.runStep(ctx, step.Spec{Name: "switch", Command: g.Switch.Run, Dir: e.Project.Dir, Env: vars,
		Timeout: switchTimeout(g), Output: o})
	o.Flush()
	if err != nil {
		if strata.ErrorCode(err) == strata.EFAILED || errors.Is(err, context.DeadlineExceeded) {
			return err.Error()
		}
		return fmt.Sprintf("could not run the switch step: %v", err)
	}
	if res.ExitCode != 0 {
		return fmt.Sprintf("the switch step exited with status %d", res.ExitCode)
	}
	return ""
}

// memberSecrets returns every secret value of every service in envs, for redaction; what
// cannot be read is left out (a step is given none of them).
func (e *Engine) memberSecrets(envs ...string) []string {
	var out []string
	for _, env := range envs {
		for _, svc := range e.Project.Services {
			var vals map[string]string
			var err error
			switch {
			case e.ServiceSecrets != nil:
				vals, err = e.ServiceSecrets(e.Project, svc.Name, env)
			case e.Secrets != nil:
				vals, err = e.Secrets(env)
			}
			if err != nil {
				continue
			}
			for _, v := range vals {
				if v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// StrandedSwitches returns the running switches whose process is gone (on this host a dead
// process, elsewhere a lapsed lease): `strata resume` runs their step again.
func (e *Engine) StrandedSwitches(ctx context.Context) ([]*strata.Switch, error) {
	open, err := e.Store.Switches(ctx, strata.SwitchFilter{States: []string{strata.SwitchRunning}})
	if err != nil {
		return nil, fmt.Errorf("find running switches: %w", err)
	}
	return slices.DeleteFunc(open, func(sw *strata.Switch) bool { return e.alive(sw.Owner, sw.LeaseUntil) }), nil
}

// resumeSwitches runs again the switches whose process died mid-step (taken over, compare
// and set, so one process does), and runs the waiting ones whose gates now hold.
func (e *Engine) resumeSwitches(ctx context.Context) ([]*strata.Switch, error) {
	open, err := e.Store.Switches(ctx, strata.SwitchFilter{States: []string{strata.SwitchRunning, strata.SwitchWaiting}})
	if err != nil {
		return nil, fmt.Errorf("find open switches: %w", err)
	}
	var done []*strata.Switch
	var errs []error
	for _, sw := range open {
		g := e.Project.Group(sw.Group)
		if sw.State == strata.SwitchWaiting {
			if g == nil || len(sw.Approvals) < g.Policy.ApprovalsNeeded() {
				continue
			}
			// Its health gate may wait for an agent of a member's pool: not long, here.
			res, err := e.AdvanceSwitch(WithAgentWait(ctx, passClaimWait), sw.ID)
			switch strata.ErrorCode(err) {
			case "":
				if res.Switch.State != strata.SwitchWaiting {
					done = append(done, res.Switch)
				}
			case strata.EBLOCKED, strata.ECONFLICT:
			default:
				errs = append(errs, err)
			}
			continue
		}
		if e.alive(sw.Owner, sw.LeaseUntil) {
			continue
		}
		ev := e.event(sw.Kind+".resume", "", sw.To, sw.ID, map[string]any{"group": sw.Group, "from": sw.From, "to": sw.To, "previous_owner": sw.Owner.ID()})
		err := e.Store.TakeOverSwitch(ctx, sw.ID, sw.Owner, e.Owner, e.now().Add(switchLease(g)), ev)
		if strata.ErrorCode(err) == strata.ECONFLICT {
			continue // another process took it
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sw.Owner, sw.LeaseUntil = e.Owner, e.now().Add(switchLease(g))
		if g == nil {
			sw.State, sw.Error, sw.FinishedAt = strata.SwitchFailed, "group "+sw.Group+" is no longer in strata.yaml", e.now()
			errs = append(errs, e.Store.FinishSwitch(ctx, sw, e.event(sw.Kind+".failed", "", sw.To, sw.ID, map[string]any{"error": sw.Error})))
			continue
		}
		e.logf("▸ %s: switch %s was interrupted; running its step again", sw.Group, sw.ID)
		if err := e.executeSwitch(ctx, sw, g); err != nil && strata.ErrorCode(err) != strata.EFAILED {
			errs = append(errs, err)
		}
		done = append(done, sw)
	}
	return done, errors.Join(errs...)
}
