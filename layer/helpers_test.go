package layer_test

import (
	"testing"

	"github.com/strata-dev/strata"
)

// at is a position in strata.yaml; tests give each value its own line.
func at(line int) strata.Pos { return strata.Pos{File: "strata.yaml", Line: line, Col: 7} }

func v(x any, line int) strata.Value { return strata.Value{V: x, Pos: at(line)} }

func vals(kv ...any) map[string]strata.Value {
	m := map[string]strata.Value{}
	for i := 0; i+2 < len(kv); i += 3 {
		m[kv[i].(string)] = v(kv[i+1], kv[i+2].(int))
	}
	return m
}

// estate builds a project the way the config package does: chains, resolved labels.
type estate struct {
	defaults map[string]strata.Value
	envs     []*strata.Environment
	services []*strata.Service
}

func env(name, extends string, labels map[string]string, config map[string]strata.Value) *strata.Environment {
	return &strata.Environment{Name: name, Extends: extends, OwnLabels: labels, Config: config, Pos: at(1)}
}

func (e estate) project(t testing.TB) *strata.Project {
	t.Helper()
	p := &strata.Project{Name: "shop", File: "strata.yaml", Defaults: e.defaults, Environments: e.envs, Services: e.services}
	for _, en := range p.Environments {
		var chain []*strata.Environment
		for cur := en; cur != nil; cur = p.Environment(cur.Extends) {
			chain = append([]*strata.Environment{cur}, chain...)
			if cur.Extends == "" {
				break
			}
		}
		en.Chain = chain
		en.Labels = map[string]string{}
		for _, c := range chain {
			for k, l := range c.OwnLabels {
				en.Labels[k] = l
			}
		}
	}
	return p
}

func key(name, typ string, line int, opts ...func(*strata.Key)) *strata.Key {
	k := &strata.Key{Name: name, Type: typ, Pos: at(line)}
	for _, o := range opts {
		o(k)
	}
	return k
}

func def(x any, line int) func(*strata.Key) {
	return func(k *strata.Key) { d := v(x, line); k.Default = &d }
}

func enum(xs ...any) func(*strata.Key) { return func(k *strata.Key) { k.Enum = xs } }

func secret(k *strata.Key) { k.Secret = true }

func service(name string, schema ...*strata.Key) *strata.Service {
	return &strata.Service{Name: name, Pos: at(20), Schema: schema, Overrides: map[string]map[string]strata.Value{}}
}
