package layer

import (
	"slices"

	"github.com/strata-dev/strata"
)

// envView is what every service shares in one environment: the labels, and layers 2 to 4
// (defaults.config, then the extends chain oldest first, ending with the environment's own
// config) merged key by key. Its slices are shared and never written after it is built.
type envView struct {
	env    *strata.Environment
	chain  []*strata.Environment
	labels map[string]string
	// keys lists every key set by defaults.config or the chain, sorted.
	keys []string
	// trail holds, per key, the layers that set it, lowest first, with cap == len so that an
	// append always copies.
	trail map[string][]Layer
	// ovName[i] is the layer name of the service overrides for chain[i].
	ovName []string
}

// svcView is what one service adds in every environment.
type svcView struct {
	svc  *strata.Service
	keys map[string]*keyInfo
	// own lists the schema keys that have a default or are secret, sorted; ownDef[i]
	// says whether own[i] has a default.
	own    []string
	ownDef []bool
}

// keyInfo is one schema key and its default as a layer.
type keyInfo struct {
	key    *strata.Key
	def    Layer
	hasDef bool
}

// defaultTrails is layer 2 on its own: the base of every environment's view.
func defaultTrails(p *strata.Project) *envView {
	v := &envView{trail: make(map[string][]Layer, len(p.Defaults))}
	for k, val := range p.Defaults {
		v.trail[k] = []Layer{{Name: LayerDefaults, Value: val}}
		v.keys = append(v.keys, k)
	}
	slices.Sort(v.keys)
	v.keys = slices.Clip(v.keys)
	return v
}

// buildEnvView stacks e's chain onto the defaults. With a memo, each ancestor's view is
// built once and reused by every environment that extends it.
func buildEnvView(p *strata.Project, e *strata.Environment, defs *envView, memo map[*strata.Environment]*envView) *envView {
	chain := chainOf(p, e)
	base, start := defs, 0
	if memo != nil {
		for i := len(chain) - 1; i >= 0; i-- {
			if v := memo[chain[i]]; v != nil {
				base, start = v, i+1
				break
			}
		}
	}
	for i := start; i < len(chain); i++ {
		base = stack(base, chain[:i+1])
		if memo != nil {
			memo[chain[i]] = base
		}
	}
	return base
}

// stack returns the view of chain's last environment, given the view of its parent.
func stack(parent *envView, chain []*strata.Environment) *envView {
	c := chain[len(chain)-1]
	v := &envView{
		env:    c,
		chain:  chain,
		trail:  make(map[string][]Layer, len(parent.trail)+len(c.Config)),
		ovName: make([]string, len(chain)),
	}
	copy(v.ovName, parent.ovName)
	v.ovName[len(chain)-1] = "overrides." + c.Name
	for k, t := range parent.trail {
		v.trail[k] = t
	}
	name := "environment " + c.Name
	if c.Ephemeral {
		name = "env create " + c.Name + " --set" // a short-lived one's own config is --set's
	}
	added := false
	for k, val := range c.Config {
		t := parent.trail[k]
		if t == nil {
			added = true
		}
		v.trail[k] = slices.Clip(append(t[:len(t):len(t)], Layer{Name: name, Value: val}))
	}
	if added {
		v.keys = make([]string, 0, len(v.trail))
		for k := range v.trail {
			v.keys = append(v.keys, k)
		}
		slices.Sort(v.keys)
	} else {
		v.keys = parent.keys
	}
	v.labels = c.Labels
	if v.labels == nil {
		// A project built by hand may leave Labels unresolved: resolve them here.
		v.labels = make(map[string]string, len(parent.labels)+len(c.OwnLabels))
		for k, l := range parent.labels {
			v.labels[k] = l
		}
		for k, l := range c.OwnLabels {
			v.labels[k] = l
		}
	}
	return v
}

// chainOf returns e's extends chain, oldest first, ending with e. It trusts Chain when the
// config package filled it, and otherwise follows Extends (stopping at an unknown parent or a
// loop, which config reports).
func chainOf(p *strata.Project, e *strata.Environment) []*strata.Environment {
	if n := len(e.Chain); n > 0 && e.Chain[n-1].Name == e.Name {
		return e.Chain
	}
	chain := []*strata.Environment{e}
	seen := map[string]bool{e.Name: true}
	for cur := e; cur.Extends != ""; {
		parent := p.Environment(cur.Extends)
		if parent == nil || seen[parent.Name] {
			break
		}
		seen[parent.Name] = true
		chain = append(chain, parent)
		cur = parent
	}
	slices.Reverse(chain)
	return chain
}

func newSvcView(s *strata.Service) *svcView {
	v := &svcView{
		svc:  s,
		keys: make(map[string]*keyInfo, len(s.Schema)),
	}
	for _, k := range s.Schema {
		ki := &keyInfo{key: k}
		if k.Default != nil && !k.Secret {
			ki.def, ki.hasDef = Layer{Name: LayerSchemaDefault, Value: *k.Default}, true
		}
		v.keys[k.Name] = ki
		if k.Default != nil || k.Secret {
			v.own = append(v.own, k.Name)
		}
	}
	slices.Sort(v.own)
	v.own = slices.Compact(v.own)
	for _, k := range v.own {
		v.ownDef = append(v.ownDef, v.keys[k].hasDef)
	}
	return v
}
