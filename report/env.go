package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// Freeze freezes env with a reason, as e's actor. The document is the *strata.Freeze.
func Freeze(ctx context.Context, e *engine.Engine, env, reason string) (*strata.Freeze, error) {
	if e.Project.Environment(env) == nil {
		return nil, Unknown("environment", env, e.Project.EnvironmentNames())
	}
	if strings.TrimSpace(reason) == "" {
		return nil, strata.Errorf(strata.EINVALID, "freeze needs --reason saying why (it is shown to whoever is blocked)")
	}
	if err := strata.CheckText("--reason", reason); err != nil {
		return nil, err
	}
	f := &strata.Freeze{Environment: env, Reason: reason, Actor: e.Actor, At: now(e)}
	// JSON, not Go's %q: they differ on control characters and on invalid UTF-8.
	detail, err := json.Marshal(map[string]string{"reason": reason})
	if err != nil {
		return nil, fmt.Errorf("freeze %s: %w", env, err)
	}
	ev := &strata.Event{Actor: e.Actor, Action: "freeze", Environment: env, Detail: detail}
	if err := e.Store.SetFreeze(ctx, env, f, ev); err != nil {
		return nil, err
	}
	return f, nil
}

// WriteFreeze prints that an environment is frozen.
func WriteFreeze(w io.Writer, f *strata.Freeze) {
	fmt.Fprintf(w, "%s is frozen: %s\n", f.Environment, f.Reason)
}

// Unfrozen is the document of `unfreeze`.
type Unfrozen struct {
	Environment string `json:"environment"`
	Frozen      bool   `json:"frozen"`
}

// Unfreeze lifts env's freeze. EINVALID when it was not frozen.
func Unfreeze(ctx context.Context, e *engine.Engine, env string) (*Unfrozen, error) {
	if e.Project.Environment(env) == nil {
		return nil, Unknown("environment", env, e.Project.EnvironmentNames())
	}
	ev := &strata.Event{Actor: e.Actor, Action: "unfreeze", Environment: env}
	if err := e.Store.SetFreeze(ctx, env, nil, ev); err != nil {
		if strata.ErrorCode(err) == strata.ENOTFOUND {
			return nil, strata.Errorf(strata.EINVALID, "%s is not frozen", env)
		}
		return nil, err
	}
	return &Unfrozen{Environment: env}, nil
}

// WriteText prints that the environment is open again.
func (u *Unfrozen) WriteText(w io.Writer) { fmt.Fprintf(w, "%s is open again\n", u.Environment) }

// Drift is the document of `drift`.
type Drift struct {
	Drift []engine.DriftItem `json:"drift"`
}

// NewDrift compares what runs with what the files and observe steps say now, in env only
// when env is not "". The error is EFAILED when there is any drift (the document lists it).
//
// An environment strata.yaml no longer has, where services still run, is drift of kind
// orphan (engine.Orphans); env may name one.
func NewDrift(ctx context.Context, e *engine.Engine, env string) (*Drift, error) {
	var items []engine.DriftItem
	if env != "" && e.Project.Environment(env) == nil {
		if orphan, err := e.IsOrphan(ctx, env); err != nil || !orphan {
			return nil, errors.Join(err, NeedEnv(e.Project, env))
		}
	} else {
		var err error
		if items, err = e.Drift(ctx, env); err != nil {
			return nil, err
		}
		flags, err := FlagDrift(ctx, e, env)
		if err != nil {
			return nil, err
		}
		items = append(items, flags...)
	}
	orphans, err := e.OrphanDrift(ctx, env)
	if err != nil {
		return nil, err
	}
	items = append(items, orphans...)
	if items == nil {
		items = []engine.DriftItem{}
	}
	doc := &Drift{Drift: items}
	if len(items) > 0 {
		return doc, strata.Errorf(strata.EFAILED, "drift found: %d item(s)", len(items))
	}
	return doc, nil
}

// WriteText prints the drift as a table, or "no drift".
func (d *Drift) WriteText(w io.Writer) {
	if len(d.Drift) == 0 {
		fmt.Fprintln(w, "no drift")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tENVIRONMENT\tKIND\tDETAIL")
	for _, it := range d.Drift {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.Service, it.Environment, it.Kind, it.Detail)
	}
	tw.Flush()
}

// Logs is the document of `logs`: a deployment's state and its stored (redacted) output.
type Logs struct {
	Chunks []strata.LogChunk `json:"chunks"`
	ID     string            `json:"id"`
	State  string            `json:"state"`
}

// Ephemeral is the document of `env create`.
type Ephemeral struct {
	CreatedAt *time.Time        `json:"created_at"`
	CreatedBy string            `json:"created_by"`
	Expires   *time.Time        `json:"expires"`
	Labels    map[string]string `json:"labels"`
	Like      string            `json:"like"`
	Name      string            `json:"name"`
	// Set is its own config (--set); Policy is "inherit" when it keeps the parent's windows
	// and approvals, else "own".
	Set    map[string]string `json:"set"`
	Policy string            `json:"policy"`
}

// NewEphemeral returns the document of a short-lived environment.
func NewEphemeral(env *strata.EphemeralEnv) *Ephemeral {
	labels := env.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	set := env.Set
	if set == nil {
		set = map[string]string{}
	}
	policy := "own"
	if env.InheritPolicy {
		policy = "inherit"
	}
	return &Ephemeral{
		Name: env.Name, Like: env.Like, Labels: labels, Expires: TimePtr(env.Expires),
		CreatedBy: env.CreatedBy, CreatedAt: TimePtr(env.CreatedAt), Set: set, Policy: policy,
	}
}

// WriteText prints what was created and how to use and remove it.
func (x *Ephemeral) WriteText(w io.Writer, now time.Time) {
	fmt.Fprintf(w, "created %s like %s", x.Name, x.Like)
	if len(x.Labels) > 0 {
		fmt.Fprintf(w, ", labels %s", FormatLabels(x.Labels))
	}
	fmt.Fprintf(w, ", %s\n", Expiry(now, timeOf(x.Expires)))
	fmt.Fprintf(w, "deploy to it with `strata deploy SERVICE --env %s`; remove it with `strata env destroy %s`\n", x.Name, x.Name)
}

// Destroyed is the document of `env destroy`: the services whose destroy steps ran, and
// whether the environment was forgotten.
type Destroyed struct {
	Destroyed []string `json:"destroyed"`
	Forgotten bool     `json:"forgotten"`
	Name      string   `json:"name"`
}

// DestroyEnv runs a short-lived environment's destroy steps and forgets it. An error that
// refused it before anything ran comes without a document.
func DestroyEnv(ctx context.Context, e *engine.Engine, name string) (*Destroyed, error) {
	done, err := e.DestroyEnvironment(ctx, name)
	if done == nil {
		done = []string{}
	}
	if code := strata.ErrorCode(err); err != nil && code != strata.EFAILED && code != strata.EINTERNAL {
		return nil, err
	}
	return &Destroyed{Name: name, Destroyed: done, Forgotten: err == nil}, err
}

// WriteText prints what was destroyed.
func (d *Destroyed) WriteText(w io.Writer) {
	what := "no destroy steps ran"
	if len(d.Destroyed) > 0 {
		what = "destroyed " + strings.Join(d.Destroyed, ", ")
	}
	fmt.Fprintf(w, "%s: %s; environment forgotten\n", d.Name, what)
}
