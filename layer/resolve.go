package layer

import (
	"slices"
	"strings"

	"github.com/strata-dev/strata"
)

// problem is a Problem before rendering. env is set when the cause lies in one environment
// (a label it lacks, a key it does not have), so that Check can name the environments that
// share a problem instead of repeating it for each.
type problem struct {
	pos strata.Pos
	msg string
	env string
}

// render turns problems into strata.Problems, naming the environment where it matters.
func render(probs []problem) strata.Problems {
	out := make(strata.Problems, 0, len(probs))
	for _, p := range probs {
		msg := p.msg
		if p.env != "" {
			msg += " (environment " + p.env + ")"
		}
		out = append(out, &strata.Problem{Pos: p.pos, Message: msg})
	}
	return out
}

// Key states during one resolution.
const (
	stTodo uint8 = iota
	stActive
	stDone
	stFailed
	// stUnknown is or-ed onto stDone: the value waits for deploy time (a secret, the release
	// version, a dependency's output), so it cannot be checked against the schema yet.
	stUnknown uint8 = 8
)

// ovEntry is one key of one service override block on the chain.
type ovEntry struct {
	key   string
	layer Layer
}

// unknownSecret is the trail of a secret key at config time: present, value unknown.
var unknownSecret = []Layer{{Name: LayerSecret, Value: strata.Value{V: Redaction}}}

// resolve stacks the layers of sv in ev, then interpolates and fits every value.
func resolve(p *strata.Project, sv *svcView, ev *envView, rt *Runtime) (*Resolved, []problem) {
	var ovs []ovEntry
	for i, c := range ev.chain {
		for k, v := range sv.svc.Overrides[c.Name] {
			ovs = append(ovs, ovEntry{key: k, layer: Layer{Name: ev.ovName[i], Value: v}})
		}
	}
	keys := unionKeys(sv, ev, ovs, rt)

	n := len(keys)
	res := &Resolved{
		Service:     sv.svc.Name,
		Environment: ev.env.Name,
		Values:      make(map[string]any, n),
		Sources:     make(map[string]strata.Pos, n),
		Trail:       make(map[string][]Layer, n),
		Secret:      make(map[string]bool),
	}
	dropped := false
	for _, k := range keys {
		t, secret := trailOf(k, sv, ev, ovs, rt)
		if len(t) == 0 || t[len(t)-1].Value.V == nil {
			// No value, or an explicit null that unsets what lower layers said.
			dropped = true
			continue
		}
		w := t[len(t)-1].Value
		res.Values[k] = w.V
		res.Sources[k] = w.Pos
		res.Trail[k] = t
		if secret {
			res.Secret[k] = true
		}
	}
	if dropped {
		kept := make([]string, 0, len(res.Values))
		for _, k := range keys {
			if _, ok := res.Values[k]; ok {
				kept = append(kept, k)
			}
		}
		keys = kept
	}
	res.Keys = keys

	c := &ctx{p: p, sv: sv, ev: ev, rt: rt, res: res}
	var small [64]uint8
	if len(keys) <= len(small) {
		c.state = small[:len(keys)]
	} else {
		c.state = make([]uint8, len(keys))
	}
	for i := range keys {
		c.finish(i)
	}
	return res, c.probs
}

// unionKeys returns, sorted, every key any layer sets for sv in ev.
func unionKeys(sv *svcView, ev *envView, ovs []ovEntry, rt *Runtime) []string {
	var extra []string
	add := func(k string) {
		if _, ok := ev.trail[k]; !ok && !slices.Contains(extra, k) {
			extra = append(extra, k)
		}
	}
	for _, k := range sv.own {
		add(k)
	}
	for _, o := range ovs {
		add(o.key)
	}
	if rt != nil {
		for k := range rt.Secrets {
			add(k)
		}
	}
	if len(extra) == 0 {
		return ev.keys
	}
	slices.Sort(extra)
	out := make([]string, 0, len(ev.keys)+len(extra))
	i, j := 0, 0
	for i < len(ev.keys) && j < len(extra) {
		if ev.keys[i] < extra[j] {
			out = append(out, ev.keys[i])
			i++
		} else {
			out = append(out, extra[j])
			j++
		}
	}
	out = append(out, ev.keys[i:]...)
	return append(out, extra[j:]...)
}

// trailOf returns the layers that set k, lowest first, and whether k is secret. A key the
// schema marks secret takes its value from the environment's own secrets only.
func trailOf(k string, sv *svcView, ev *envView, ovs []ovEntry, rt *Runtime) ([]Layer, bool) {
	var sval string
	var hasSecret bool
	if rt != nil {
		sval, hasSecret = rt.Secrets[k]
	}
	if sk := sv.schema[k]; sk != nil && sk.Secret {
		switch {
		case hasSecret:
			return []Layer{{Name: LayerSecret, Value: strata.Value{V: sval}}}, true
		case rt == nil:
			return unknownSecret, true
		default:
			return nil, true
		}
	}
	et := ev.trail[k]
	d, hasDef := sv.def[k]
	nov := 0
	for _, o := range ovs {
		if o.key == k {
			nov++
		}
	}
	if !hasDef && nov == 0 && !hasSecret {
		return et, false
	}
	t := make([]Layer, 0, len(et)+nov+2)
	if hasDef {
		t = append(t, d)
	}
	t = append(t, et...)
	for _, o := range ovs {
		if o.key == k {
			t = append(t, o.layer)
		}
	}
	if hasSecret {
		t = append(t, Layer{Name: LayerSecret, Value: strata.Value{V: sval}})
	}
	return slices.Clip(t), hasSecret
}

// ctx is one resolution (or one Expand) in progress.
type ctx struct {
	p     *strata.Project
	sv    *svcView
	ev    *envView
	rt    *Runtime
	res   *Resolved
	state []uint8
	stack []string
	probs []problem
	// final means res is already resolved (Expand): config references read res.Values.
	final bool
}

func (c *ctx) fail(pos strata.Pos, env string, msg ...string) {
	c.probs = append(c.probs, problem{pos: pos, msg: strings.Join(msg, ""), env: env})
}

// finish interpolates and fits the i'th key, once. It returns the key's state.
func (c *ctx) finish(i int) uint8 {
	switch st := c.state[i]; {
	case st&^stUnknown == stDone, st == stFailed:
		return st
	case st == stActive:
		return stActive
	}
	k := c.res.Keys[i]
	v := c.res.Values[k]
	c.state[i] = stActive
	c.stack = append(c.stack, k)
	st := stDone
	t := c.res.Trail[k]
	fromSecret := t[len(t)-1].Name == LayerSecret
	if fromSecret && c.rt == nil {
		st |= stUnknown
	}
	if s, ok := v.(string); ok && !fromSecret && strings.IndexByte(s, '$') >= 0 {
		nv, flags, ok := c.expand(s, c.res.Sources[k], "config "+k)
		if !ok {
			st = stFailed
		} else {
			v = nv
			st |= flags & stUnknown
			if flags&flagSecret != 0 {
				c.res.Secret[k] = true
			}
		}
	}
	if st != stFailed && st&stUnknown == 0 {
		if sk := c.sv.schema[k]; sk != nil {
			fv, ok := c.fit(sk, k, v, fromSecret)
			if !ok {
				st = stFailed
			}
			v = fv
		}
	}
	c.res.Values[k] = v
	c.stack = c.stack[:len(c.stack)-1]
	c.state[i] = st
	return st
}
