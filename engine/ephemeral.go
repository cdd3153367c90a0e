package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/secret"
)

// LoadEnvironments adds the short-lived environments the store holds to p (config.AddEphemeral),
// oldest first. One that no longer fits the project (its parent is gone from strata.yaml, or
// strata.yaml now declares its name) is left out and reported in skipped; `strata env
// destroy` can still forget it.
func LoadEnvironments(ctx context.Context, p *strata.Project, s strata.Store) (skipped []error, err error) {
	envs, err := s.Environments(ctx)
	if err != nil {
		return nil, fmt.Errorf("read short-lived environments: %w", err)
	}
	for _, env := range envs {
		if p.Environment(env.Name) != nil && p.Environment(env.Name).Ephemeral {
			continue // loaded already
		}
		if err := config.AddEphemeral(p, env); err != nil {
			skipped = append(skipped, fmt.Errorf("short-lived environment %s is left out: %w", env.Name, err))
		}
	}
	return skipped, nil
}

// CreateEnvironment records the short-lived environment env (audited as env.create) and adds
// it to the engine's project. env.CreatedBy defaults to the engine's actor. Bad names and
// parents are refused as config.AddEphemeral refuses them; ECONFLICT when it exists.
func (e *Engine) CreateEnvironment(ctx context.Context, env *strata.EphemeralEnv) error {
	if _, err := config.ValidEphemeral(e.Project, env); err != nil {
		return err
	}
	// Label values are held to the text rule when they are made; one stored before it still
	// loads (LoadEnvironments), so that what runs there stays visible.
	for _, k := range slices.Sorted(maps.Keys(env.Labels)) {
		if err := strata.CheckLine("--label "+k, env.Labels[k]); err != nil {
			return err
		}
	}
	if err := layer.CheckSet(e.Project, env.Set); err != nil {
		return err
	}
	if env.CreatedBy == "" {
		env.CreatedBy = e.Actor
	}
	if env.CreatedAt.IsZero() {
		env.CreatedAt = e.now()
	}
	detail := map[string]any{"like": env.Like, "labels": env.Labels}
	if len(env.Set) > 0 {
		detail["set"] = env.Set
	}
	if env.InheritPolicy {
		detail["policy"] = "inherit"
	}
	if !env.Expires.IsZero() {
		detail["expires"] = env.Expires.UTC()
	}
	if err := e.Store.CreateEnvironment(ctx, env, e.event("env.create", "", env.Name, env.Name, detail)); err != nil {
		return err
	}
	return config.AddEphemeral(e.Project, env)
}

// DestroyEnvironment runs the destroy steps of every service that runs in the short-lived
// environment name, in reverse dependency order (Destroy), then forgets it (audited as
// env.destroy) and returns the services it destroyed. A failed destroy step leaves the
// environment recorded, so that it can be destroyed again. A declared environment is
// EINVALID; an unknown one ENOTFOUND.
func (e *Engine) DestroyEnvironment(ctx context.Context, name string) ([]string, error) {
	return e.destroyEnvironment(ctx, name, 0)
}

// destroyEnvironment is DestroyEnvironment, with destroy's claimWithin.
func (e *Engine) destroyEnvironment(ctx context.Context, name string, claimWithin time.Duration) ([]string, error) {
	env := e.Project.Environment(name)
	if env != nil && !env.Ephemeral {
		return nil, strata.Errorf(strata.EINVALID, "%s is declared in %s, not made by `strata env create`; remove it there instead", name, e.Project.File)
	}
	var done []string
	if env != nil {
		var err error
		done, err = e.destroy(ctx, name, claimWithin)
		if err != nil {
			return done, fmt.Errorf("destroy environment %s (it stays recorded; run `strata env destroy %s` again): %w", name, name, err)
		}
	} else if gone, err := e.destroyedBefore(ctx, name); err != nil || gone {
		// Destroyed before, but its secrets may have outlived it (the removal failed).
		return []string{}, errors.Join(err, e.forgetSecrets(name))
	} else if !e.recorded(ctx, name) {
		var names []string
		for _, x := range e.Project.Environments {
			if x.Ephemeral {
				names = append(names, x.Name)
			}
		}
		list := "there are none"
		if len(names) > 0 {
			list = "there are: " + strings.Join(names, ", ")
		}
		return nil, strata.Errorf(strata.ENOTFOUND, "there is no short-lived environment %q; %s", name, list)
	}
	if done == nil {
		done = []string{}
	}
	// Recorded gone (with the same commit that forgets it) before its secrets are removed:
	// a removal that fails is tried again by the next `env destroy NAME`.
	ev := e.event("env.destroy", "", name, name, map[string]any{"destroyed": done})
	gone := &strata.RetiredEnv{Name: name, How: strata.HowDestroy, Services: done, By: e.Actor, At: e.now()}
	if err := e.Store.RetireEnvironment(ctx, gone, ev); err != nil {
		return done, err
	}
	e.Project.Environments = slices.DeleteFunc(e.Project.Environments, func(x *strata.Environment) bool { return x.Name == name })
	return done, e.forgetSecrets(name)
}

// destroyedBefore reports whether name is a short-lived environment destroyed before.
func (e *Engine) destroyedBefore(ctx context.Context, name string) (bool, error) {
	gone, err := e.retired(ctx)
	if err != nil {
		return false, err
	}
	r := gone[name]
	return r != nil && r.How == strata.HowDestroy, nil
}

// forgetSecrets removes a destroyed short-lived environment's secrets file and key, so that
// nothing can read its secrets again. A removal that fails is EFAILED naming what is left.
func (e *Engine) forgetSecrets(name string) error {
	keys, kerr := secret.KeyDir()
	if kerr != nil {
		keys = "" // the file still goes; there is no key directory to look in
	}
	v := &secret.Vault{ProjectDir: e.Project.Dir, Project: e.Project.Name, KeyDir: keys}
	removed, err := v.Forget(name)
	for _, path := range removed {
		e.logf("  removed %s", path)
	}
	if err != nil {
		return &strata.Error{Code: strata.EFAILED, Message: fmt.Sprintf("%s is destroyed, but its secrets are not all removed; run `strata env destroy %s` again", name, name), Err: err}
	}
	return nil
}

// recorded reports whether the store holds a short-lived environment of that name (one that
// LoadEnvironments may have left out).
func (e *Engine) recorded(ctx context.Context, name string) bool {
	envs, err := e.Store.Environments(ctx)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(envs, func(x *strata.EphemeralEnv) bool { return x.Name == name })
}

// Expired returns the short-lived environments of the project whose time to live has run out.
func (e *Engine) Expired() []*strata.Environment {
	now := e.now()
	var out []*strata.Environment
	for _, env := range e.Project.Environments {
		if env.Ephemeral && !env.Expires.IsZero() && !now.Before(env.Expires) {
			out = append(out, env)
		}
	}
	return out
}

// DestroyedEnv is a short-lived environment that DestroyExpired destroyed (or tried to).
type DestroyedEnv struct {
	Name      string   `json:"name"`
	Services  []string `json:"services"`
	Error     string   `json:"error,omitempty"`
	Destroyed bool     `json:"destroyed"`
}

// passClaimWait is how long a scheduler pass waits for an agent to claim what it queued (an
// expired environment's destroy step, the health check of an approved switch it judges
// again): an agent of the pool that is connected and idle claims it at once, and a pass
// must not hold up the scheduler's other work for an absent one.
const passClaimWait = 5 * time.Second

// DestroyExpired destroys every short-lived environment whose time to live has run out, and
// goes on past one that fails (it stays recorded and is reported in the error).
func (e *Engine) DestroyExpired(ctx context.Context) ([]DestroyedEnv, error) {
	var out []DestroyedEnv
	var errs []error
	for _, env := range e.Expired() {
		e.logf("✗ %s expired at %s: destroying it", env.Name, env.Expires.UTC().Format("2006-01-02 15:04:05Z"))
		// An agent of its pool that is not there is not waited for: the destroy stays
		// queued, and the next pass waits for it again (and finds it done, should an
		// agent run it in between).
		done, err := e.destroyEnvironment(ctx, env.Name, passClaimWait)
		if done == nil {
			done = []string{}
		}
		d := DestroyedEnv{Name: env.Name, Services: done, Destroyed: err == nil}
		if err != nil {
			d.Error = err.Error()
			errs = append(errs, err)
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}
