// Package layer resolves one service's configuration in one environment: it stacks the six
// layers of DESIGN.md section 2 (schema defaults, defaults.config, the extends chain, the
// environment's own config, the service's overrides, secrets), interpolates ${...}
// references, fits every value to the service's schema, and remembers where each value was
// written so that `strata config --explain` can show it.
//
// Everything here is a pure function of a *strata.Project and a *Runtime: no I/O, no clock.
// Resolving many configurations of one project is cheapest through a Resolver, which
// computes what repeats per environment chain once.
package layer

import (
	"github.com/strata-dev/strata"
)

// Runtime carries what is only known at deploy time. A nil *Runtime means config time:
// ${release.version} and ${outputs...} are left as written, and secret values are unknown.
type Runtime struct {
	// Version is the release's version, for ${release.version}.
	Version string
	// Outputs holds what dependencies' deploy steps wrote, for ${outputs.SERVICE.KEY}.
	Outputs map[string]map[string]string
	// Secrets holds this environment's secret values by key. They are never taken from a
	// parent environment: the caller gives the environment's own secrets only. Every key
	// given is the top layer of every service's config and is secret. A nil map means the
	// secrets are not known here (a plan, a preview): keys the schema marks secret are
	// present as "***", as at config time. A non-nil map is the whole truth: a secret key
	// it lacks has no value.
	Secrets map[string]string
}

// secretsKnown reports whether rt carries the environment's secrets.
func (rt *Runtime) secretsKnown() bool { return rt != nil && rt.Secrets != nil }

// DeployRuntime returns the runtime of a deployment of svc at version into an environment
// where running gives the deployment that runs each service there now (nil where none
// does): every dependency's outputs as its deployment stored them (secret values already
// masked), so that ${outputs.DEP.KEY} reads what DEP last wrote there, and a dependency
// that runs nowhere there is told apart from one that wrote no such key. Secrets are not
// set: the caller adds the environment's own, or leaves them unknown.
//
// It is the one place a deploy-time runtime is made: config, step commands, health and
// observe checks, runbooks, destroy steps and agents' jobs all read their outputs through
// it (by way of the Resolved it was resolved into), so none can forget them.
func DeployRuntime(svc *strata.Service, version string, running func(service string) *strata.Deployment) *Runtime {
	rt := &Runtime{Version: version, Outputs: make(map[string]map[string]string, len(svc.DependsOn))}
	for _, dep := range svc.DependsOn {
		d := running(dep)
		if d == nil {
			continue
		}
		outs := d.Outputs
		if outs == nil {
			outs = map[string]string{} // deployed, and wrote none
		}
		rt.Outputs[dep] = outs
	}
	return rt
}

// steps returns what of rt a step's interpolation reads (the version and the outputs), nil
// for config time: rt without its secrets.
func (rt *Runtime) steps() *Runtime {
	if rt == nil {
		return nil
	}
	return &Runtime{Version: rt.Version, Outputs: rt.Outputs}
}

// Resolved is one service's configuration in one environment.
//
// Keys, and the Trail slices, may be shared with other Resolved values of the same project:
// treat them as read-only.
type Resolved struct {
	Service, Environment string
	// Keys lists every key that has a value, sorted.
	Keys []string
	// Values holds each key's final value: a string, int64, float64 or bool.
	Values map[string]any
	// Sources says where the winning value was written (the zero Pos for secrets).
	Sources map[string]strata.Pos
	// Trail lists every layer that set the key, lowest precedence first, as written
	// (before interpolation), for --explain.
	Trail map[string][]Layer
	// Secret marks the keys whose values are secret, or built from a secret.
	Secret map[string]bool

	// rt is the runtime the config was resolved with, which every step of the service in
	// the environment is interpolated with too (Expand, ExpandCommand): one runtime per
	// resolution, so that a step cannot be given another. Its secrets are never read
	// again (Values holds what they resolved to) and never handed out (Runtime).
	rt *Runtime
}

// Runtime returns the deploy-time values the configuration was resolved with, its release
// version and its dependencies' outputs, without secrets; nil for a configuration resolved
// at config time. Treat its maps as read-only.
func (r *Resolved) Runtime() *Runtime { return r.rt.steps() }

// Kept returns an empty configuration of service in env resolved with rt (from
// DeployRuntime), on which a configuration resolved before and kept (a deployment's stored
// config) is laid, so that its steps are interpolated as a fresh resolution's would be.
func Kept(service, env string, rt *Runtime) *Resolved {
	return &Resolved{Service: service, Environment: env, Values: map[string]any{}, Sources: map[string]strata.Pos{},
		Trail: map[string][]Layer{}, Secret: map[string]bool{}, rt: rt}
}

// Layer is one place that set a key.
type Layer struct {
	// Name says which layer: "schema default", "defaults.config", "environment prod-us",
	// "overrides.prod-us" or "secret".
	Name  string
	Value strata.Value
}

// Layer names that do not depend on an environment.
const (
	LayerSchemaDefault = "schema default"
	LayerDefaults      = "defaults.config"
	LayerSecret        = "secret"
)

// Redaction replaces secret values wherever configuration is shown.
const Redaction = "***"

// Resolve returns the configuration of service in env. An unknown service or environment is
// an ENOTFOUND *strata.Error naming the known ones; unknown references, cycles and values
// that do not fit the schema are an EINVALID *strata.Error listing every problem with its
// file:line:col; the configuration is then returned too, as far as it resolved (values that
// failed keep what was written), so that --explain can still show it.
func Resolve(p *strata.Project, service, env string, rt *Runtime) (*Resolved, error) {
	if p == nil {
		return nil, strata.Errorf(strata.EINVALID, "resolve %s in %s: no project", service, env)
	}
	s, e, err := lookup(p, service, env)
	if err != nil {
		return nil, err
	}
	ev := buildEnvView(p, e, defaultTrails(p), nil)
	res, probs := resolve(p, newSvcView(s), ev, rt)
	if err := render(probs).Err(); err != nil {
		return res, err
	}
	return res, nil
}

// A Resolver resolves many configurations of one project, computing the layers every
// service shares in an environment (defaults.config and the extends chain) once per
// environment. It is safe for concurrent use. The project must not change while it is used.
type Resolver struct {
	p    *strata.Project
	envs map[string]*envView
	svcs map[string]*svcView
}

// NewResolver prepares a Resolver for p.
func NewResolver(p *strata.Project) *Resolver {
	if p == nil {
		p = &strata.Project{}
	}
	r := &Resolver{
		p:    p,
		envs: make(map[string]*envView, len(p.Environments)),
		svcs: make(map[string]*svcView, len(p.Services)),
	}
	defs := defaultTrails(p)
	memo := make(map[*strata.Environment]*envView, len(p.Environments))
	for _, e := range p.Environments {
		r.envs[e.Name] = buildEnvView(p, e, defs, memo)
	}
	for _, s := range p.Services {
		r.svcs[s.Name] = newSvcView(s)
	}
	return r
}

// Resolve returns the configuration of service in env, as the package-level Resolve does.
func (r *Resolver) Resolve(service, env string, rt *Runtime) (*Resolved, error) {
	sv, ev := r.svcs[service], r.envs[env]
	if sv == nil || ev == nil {
		_, _, err := lookup(r.p, service, env)
		return nil, err
	}
	res, probs := resolve(r.p, sv, ev, rt)
	if err := render(probs).Err(); err != nil {
		return res, err
	}
	return res, nil
}

// lookup finds the named service and environment, or says which names exist.
func lookup(p *strata.Project, service, env string) (*strata.Service, *strata.Environment, error) {
	s := p.Service(service)
	if s == nil {
		return nil, nil, strata.Errorf(strata.ENOTFOUND, "unknown service %q%s", service,
			knownNames(service, p.ServiceNames()))
	}
	e := p.Environment(env)
	if e == nil {
		return nil, nil, strata.Errorf(strata.ENOTFOUND, "unknown environment %q%s", env,
			knownNames(env, p.EnvironmentNames()))
	}
	return s, e, nil
}
