package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

// An environment removed from strata.yaml while deployments remain in it is an orphan: what
// runs there runs on, unseen by status and drift, until someone destroys it. `drift` reports
// it (kind orphan) and `status` marks it; `strata env retire NAME` runs every service's
// destroy step there, with the config its deployment ran with, and records the environment
// as retired. Its history stays in the store, readable. (Orphaned promotions, whose stage is
// gone, are another matter: orphan.go.)

// DriftOrphan is the drift kind of a service that still runs in an environment strata.yaml
// no longer declares.
const DriftOrphan = "orphan"

// Orphan is an environment strata.yaml no longer has, where services still run: Running
// holds what runs of each, in service order.
type Orphan struct {
	Environment string
	Running     []*strata.Deployment
}

// Orphans returns the environments that are orphans, by name: those where a deployment
// succeeded that the project no longer has (declared or short-lived, or recorded as one that
// LoadEnvironments left out), and that were not retired or destroyed since.
func (e *Engine) Orphans(ctx context.Context) ([]Orphan, error) {
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Succeeded}, Latest: true})
	if err != nil {
		return nil, fmt.Errorf("find orphaned environments: %w", err)
	}
	gone, err := e.retired(ctx)
	if err != nil {
		return nil, err
	}
	recorded, err := e.Store.Environments(ctx)
	if err != nil {
		return nil, fmt.Errorf("find orphaned environments: %w", err)
	}
	held := map[string]bool{}
	for _, env := range recorded {
		held[env.Name] = true
	}
	by := map[string][]*strata.Deployment{}
	for _, d := range ds {
		if e.Project.Environment(d.Environment) != nil || held[d.Environment] {
			continue
		}
		if r := gone[d.Environment]; r != nil && !d.CreatedAt.After(r.At) {
			continue
		}
		by[d.Environment] = append(by[d.Environment], d)
	}
	var out []Orphan
	for _, name := range slices.Sorted(maps.Keys(by)) {
		running := by[name]
		slices.SortFunc(running, func(a, b *strata.Deployment) int { return strings.Compare(a.Service, b.Service) })
		out = append(out, Orphan{Environment: name, Running: running})
	}
	return out, nil
}

// OrphanDrift returns the drift items of the orphans (env only, when not ""): one for each
// service that runs in one.
func (e *Engine) OrphanDrift(ctx context.Context, env string) ([]DriftItem, error) {
	orphans, err := e.Orphans(ctx)
	if err != nil {
		return nil, err
	}
	var out []DriftItem
	for _, o := range orphans {
		if env != "" && o.Environment != env {
			continue
		}
		for _, d := range o.Running {
			out = append(out, DriftItem{Service: d.Service, Environment: o.Environment, Kind: DriftOrphan, Deployment: d.ID,
				Detail: fmt.Sprintf("%s is no longer in %s, but %s %s still runs there (%s); `strata env retire %s` destroys it",
					o.Environment, e.projectFile(), d.Service, d.Version, d.ID, o.Environment)})
		}
	}
	return out, nil
}

// IsOrphan reports whether env is an orphan now.
func (e *Engine) IsOrphan(ctx context.Context, env string) (bool, error) {
	orphans, err := e.Orphans(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(orphans, func(o Orphan) bool { return o.Environment == env }), nil
}

// RetireEnvironment runs the destroy step of every service that runs in the orphan
// environment name, in reverse dependency order, each with the config its deployment ran
// with (secret values are not given: the environment's keys went with its declaration),
// then records it as retired (audited as env.retire) and returns the record. A service that
// has no destroy step, or that strata.yaml no longer has, is left. A failed destroy step
// leaves it an orphan, to be retired again. A declared or short-lived environment is
// EINVALID; a name that is no orphan ENOTFOUND.
func (e *Engine) RetireEnvironment(ctx context.Context, name string) (*strata.RetiredEnv, error) {
	if env := e.Project.Environment(name); env != nil {
		if env.Ephemeral {
			return nil, strata.Errorf(strata.EINVALID, "%s is a short-lived environment; `strata env destroy %s` destroys it", name, name)
		}
		return nil, strata.Errorf(strata.EINVALID, "%s is declared in %s; env retire is for an environment removed from it: remove it there first", name, declaredAt(e.Project, env))
	}
	orphans, err := e.Orphans(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(orphans, func(o Orphan) bool { return o.Environment == name })
	if i < 0 {
		return nil, e.noOrphan(ctx, name, orphans)
	}
	running := map[string]*strata.Deployment{}
	for _, d := range orphans[i].Running {
		running[d.Service] = d
	}
	ran := maps.Clone(running) // what each destroy step reads its dependencies' outputs from
	p := e.withRetiring(name)
	order := p.DependencyOrder(nil)
	slices.Reverse(order)
	done := []string{}
	for _, svc := range order {
		d := running[svc.Name]
		delete(running, svc.Name)
		if d == nil || svc.Destroy == nil {
			continue
		}
		rel, err := e.Store.Release(ctx, svc.Name, d.Version)
		if err != nil {
			return nil, err
		}
		if err := e.ensureBundle(ctx, rel); err != nil {
			return nil, fmt.Errorf("destroy %s in %s: %w", svc.Name, name, err)
		}
		e.logf("✗ %s → %s: destroy %s (config of %s)", svc.Name, name, d.Version, d.ID)
		rt := layer.DeployRuntime(svc, d.Version, func(dep string) *strata.Deployment { return ran[dep] })
		if err := e.destroyStep(ctx, p, svc, d, rel, keptResolved(svc.Name, name, d.Config, rt)); err != nil {
			return nil, fmt.Errorf("retire %s (it stays an orphan; run `strata env retire %s` again): %w", name, name, err)
		}
		done = append(done, svc.Name)
	}
	for _, svc := range slices.Sorted(maps.Keys(running)) {
		e.logf("  %s in %s: strata.yaml no longer has the service; nothing to destroy it with", svc, name)
	}
	r := &strata.RetiredEnv{Name: name, How: strata.HowRetire, Services: done, By: e.Actor, At: e.now()}
	ev := e.event("env.retire", "", name, name, map[string]any{"destroyed": done})
	if err := e.Store.RetireEnvironment(ctx, r, ev); err != nil {
		return nil, err
	}
	e.logf("✓ %s retired; its history stays readable", name)
	return r, nil
}

// noOrphan is the ENOTFOUND of a retire that names no orphan: retired already, or never one.
func (e *Engine) noOrphan(ctx context.Context, name string, orphans []Orphan) error {
	gone, err := e.retired(ctx)
	if err != nil {
		return err
	}
	if r := gone[name]; r != nil {
		return strata.Errorf(strata.ENOTFOUND, "%s is not an orphan: it was %sed by %s at %s", name, strings.TrimSuffix(r.How, "e"), r.By, r.At.UTC().Format("2006-01-02 15:04:05Z"))
	}
	var names []string
	for _, o := range orphans {
		names = append(names, o.Environment)
	}
	list := "there are none"
	if len(names) > 0 {
		list = "orphans: " + strings.Join(names, ", ")
	}
	return strata.Errorf(strata.ENOTFOUND, "%s is not an orphan (an environment removed from %s where services still run); %s", name, e.projectFile(), list)
}

// retired returns the environments recorded as gone, by name.
func (e *Engine) retired(ctx context.Context) (map[string]*strata.RetiredEnv, error) {
	rs, err := e.Store.RetiredEnvironments(ctx)
	if err != nil {
		return nil, fmt.Errorf("read retired environments: %w", err)
	}
	out := map[string]*strata.RetiredEnv{}
	for _, r := range rs {
		out[r.Name] = r
	}
	return out, nil
}

// IsRetired reports whether env was retired or destroyed (its history stays readable).
func (e *Engine) IsRetired(ctx context.Context, env string) (bool, error) {
	gone, err := e.retired(ctx)
	return gone[env] != nil, err
}

// withRetiring returns a copy of the project that holds name as an environment with nothing
// of its own, so that the destroy steps' ${env.name} and ${config.KEY} resolve.
func (e *Engine) withRetiring(name string) *strata.Project {
	p := *e.Project
	env := &strata.Environment{Name: name, Labels: map[string]string{}, OwnLabels: map[string]string{}, LabelPos: map[string]strata.Pos{}, Config: map[string]strata.Value{}}
	env.Chain = []*strata.Environment{env}
	p.Environments = append(slices.Clone(e.Project.Environments), env)
	return &p
}

// keptResolved is the config a deployment ran with (kept, as stored: secrets are "***" and
// left out) as a resolved config for a step, which reads the version and outputs of rt.
func keptResolved(service, env string, kept map[string]any, rt *layer.Runtime) *layer.Resolved {
	return reuseKept(layer.Kept(service, env, rt), kept)
}

// projectFile names the project's file, for messages.
func (e *Engine) projectFile() string {
	if e.Project.File == "" {
		return "strata.yaml"
	}
	return e.Project.File
}

// declaredAt names where env is declared, or the project's file.
func declaredAt(p *strata.Project, env *strata.Environment) string {
	if !env.Pos.IsZero() {
		return env.Pos.String()
	}
	return p.File
}
