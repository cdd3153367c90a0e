package engine

import (
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
)

// resolve computes the config a deployment gets: dependencies' outputs and the
// environment's own secrets included. Every step of svc in env is interpolated with the
// runtime it returns the config with (layer.Resolved.Runtime), so that a deploy command, a
// health check, a runbook or a destroy step reads the same outputs as the config does.
func (e *Engine) resolve(svc *strata.Service, env, version string, f plan.Facts) (*layer.Resolved, error) {
	rt := runtimeIn(svc, env, version, f)
	rt.Secrets = map[string]string{}
	load := e.Secrets
	if e.ServiceSecrets != nil {
		load = func(env string) (map[string]string, error) { return e.ServiceSecrets(e.Project, svc.Name, env) }
	}
	if load != nil {
		s, err := load(env)
		if err != nil {
			return nil, err
		}
		// A service sees only the secrets its own schema declares.
		for _, k := range svc.Schema {
			if v, ok := s[k.Name]; ok && k.Secret {
				rt.Secrets[k.Name] = v
			}
		}
		for _, k := range svc.Schema {
			if _, ok := rt.Secrets[k.Name]; k.Secret && k.From == "" && !ok {
				return nil, strata.Errorf(strata.EINVALID, "%s in %s needs the secret %s, which is not set; run `strata secret set %s %s`", svc.Name, env, k.Name, env, k.Name)
			}
		}
	}
	rs, err := layer.Resolve(e.Project, svc.Name, env, rt)
	if err != nil {
		return nil, fmt.Errorf("resolve %s config in %s: %w", svc.Name, env, err)
	}
	return rs, nil
}

// runtimeIn is the runtime of a deployment of svc at version into env, with the outputs of
// the dependencies f says run there, and no secrets.
func runtimeIn(svc *strata.Service, env, version string, f plan.Facts) *layer.Runtime {
	return layer.DeployRuntime(svc, version, func(dep string) *strata.Deployment {
		return f.Current[plan.Pair{Service: dep, Environment: env}]
	})
}

// checkSteps interpolates svc's deploy step and health check with rs, as execute will,
// so that a reference that cannot resolve (a dependency's output where it has not been
// deployed) is refused as bad input before a deployment is recorded, not found after.
func (e *Engine) checkSteps(svc *strata.Service, rs *layer.Resolved, rel *strata.Release) error {
	if svc.Deploy != nil {
		if _, err := layer.ExpandCommand(e.Project, rs, svc.Deploy.Run, svc.Deploy.Pos); err != nil {
			return fmt.Errorf("deploy %s to %s: the deploy step: %w", svc.Name, rs.Environment, err)
		}
	}
	if svc.Health == nil {
		return nil
	}
	if _, err := e.jobHealth(svc, rs); err != nil {
		return fmt.Errorf("deploy %s to %s: the health check: %w", svc.Name, rs.Environment, err)
	}
	return nil
}
