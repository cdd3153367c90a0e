package engine

import (
	"fmt"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
)

// resolve computes the config a deployment gets: dependencies' outputs and the
// environment's own secrets included.
func (e *Engine) resolve(svc *strata.Service, env, version string, f plan.Facts) (*layer.Resolved, error) {
	rt := &layer.Runtime{Version: version, Outputs: map[string]map[string]string{}, Secrets: map[string]string{}}
	for _, dep := range svc.DependsOn {
		if d := f.Current[plan.Pair{Service: dep, Environment: env}]; d != nil {
			rt.Outputs[dep] = d.Outputs
		}
	}
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
