package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/postgres"
	"github.com/strata-dev/strata/secret"
	"github.com/strata-dev/strata/sqlite"
)

// storePath is the embedded store's file.
func (a *app) storePath() string { return filepath.Join(a.stateDir(), "state.db") }

// openStore opens the store once and reports deployments whose process is gone.
func (a *app) openStore(ctx context.Context) (strata.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	if u := a.storeURL; u != "" && !strings.HasPrefix(u, "sqlite:") && !strings.HasPrefix(u, "file:") {
		if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
			return nil, strata.Errorf(strata.EINVALID, "--store %s: want postgres://... or sqlite:PATH", redactURL(u))
		}
		// postgres.Open names the server without the password in every error.
		s, err := postgres.Open(u, a.now)
		if err != nil {
			return nil, err
		}
		a.store = s
		return s, nil
	}
	path := a.storePath()
	if u := a.storeURL; u != "" {
		path = strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "file:")
	}
	s, err := sqlite.Open(path, a.now)
	if err != nil {
		return nil, err
	}
	a.store = s
	return s, nil
}

// redactURL hides a password in a store URL: the user information before '@' and any
// password= parameter.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at > 0 {
		if scheme := strings.Index(u, "://"); scheme > 0 && scheme < at {
			u = u[:scheme+3] + "***" + u[at:]
		}
	}
	if i := strings.Index(strings.ToLower(u), "password="); i >= 0 {
		end := strings.IndexAny(u[i:], "& ")
		rest := ""
		if end >= 0 {
			rest = u[i+end:]
		}
		u = u[:i] + "password=***" + rest
	}
	return u
}

// clearScratch clears dead processes' scratch directories once a process.
var clearScratch sync.Once

// engine opens the project and store and returns an engine acting as the principal.
func (a *app) engine(ctx context.Context) (*engine.Engine, error) {
	p, err := a.loadProject()
	if err != nil {
		return nil, err
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	a.addEphemeral(ctx, p, s)
	e := engine.New(p, s, a.actor())
	e.Now = a.now
	// Absolute: steps are given paths under it and may change directory.
	if abs, err := filepath.Abs(a.stateDir()); err == nil {
		e.StateDir = abs
	}
	// Scratch files of strata processes that died (killed, or the machine lost power) may
	// hold secrets: the first engine of a process clears them.
	clearScratch.Do(func() {
		if err := engine.ClearScratch(e.StateDir); err != nil {
			fmt.Fprintf(a.stderr, "strata: warning: %v\n", err)
		}
	})
	// Each deployment reads its own environment's secrets, and that environment's identity
	// only, and only the sources its service declares (secret.Loader); the key directory is
	// looked up only when one is needed.
	e.ServiceSecrets = func(p *strata.Project, service, env string) (map[string]string, error) {
		return (&secret.Loader{Project: p}).LoadService(service, env)
	}
	if !a.json() {
		e.Log = a.progress()
	}
	a.reportInterrupted(ctx, e)
	return e, nil
}

// reportInterrupted tells the user about deployments and running promotions whose process
// is gone.
func (a *app) reportInterrupted(ctx context.Context, e *engine.Engine) {
	if ds, err := e.Interrupted(ctx); err == nil {
		for _, d := range ds {
			fmt.Fprintf(a.stderr, "strata: %s (%s@%s to %s, attempt %d) was interrupted; `strata resume` runs it again\n", d.ID, d.Service, d.Version, d.Environment, d.Attempt)
		}
	}
	if ps, err := e.Stranded(ctx); err == nil {
		for _, p := range ps {
			fmt.Fprintf(a.stderr, "strata: promotion %s (%s@%s to %s) was interrupted; `strata resume` carries it on\n", p.ID, p.Service, p.Version, p.Stage)
		}
	}
	if ss, err := e.StrandedSwitches(ctx); err == nil {
		for _, sw := range ss {
			fmt.Fprintf(a.stderr, "strata: %s %s (%s from %s to %s) was interrupted; `strata resume` runs its step again\n", sw.Kind, sw.ID, sw.Group, sw.From, sw.To)
		}
	}
}

func pairFrom(k [2]string) plan.Pair { return plan.Pair{Service: k[0], Environment: k[1]} }

// addEphemeral adds the short-lived environments the store holds to p (once each); one that
// no longer fits strata.yaml is left out with a warning.
func (a *app) addEphemeral(ctx context.Context, p *strata.Project, s strata.Store) {
	skipped, err := engine.LoadEnvironments(ctx, p, s)
	if err != nil {
		fmt.Fprintf(a.stderr, "strata: warning: %v\n", err)
	}
	for _, err := range skipped {
		fmt.Fprintf(a.stderr, "strata: warning: %v; `strata env destroy` forgets it\n", err)
	}
	if err := engine.ApplyLive(ctx, p, s); err != nil {
		fmt.Fprintf(a.stderr, "strata: warning: %v\n", err)
	}
}

// projectWithEphemeral loads the project and, when a store exists (it is not created for
// this), adds the short-lived environments it holds.
func (a *app) projectWithEphemeral(ctx context.Context) (*strata.Project, error) {
	p, err := a.loadProject()
	if err != nil {
		return nil, err
	}
	if a.storeURL == "" {
		if _, err := os.Stat(a.storePath()); err != nil {
			return p, nil
		}
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	a.addEphemeral(ctx, p, s)
	return p, nil
}
