package layer

import (
	"slices"
	"strconv"
	"strings"
	"sync"

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
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	ovs := sc.ovs[:0]
	for i, c := range ev.chain {
		for k, v := range sv.svc.Overrides[c.Name] {
			ovs = append(ovs, ovEntry{key: k, layer: Layer{Name: ev.ovName[i], Value: v}})
		}
	}
	sc.ovs = ovs
	keys, size := unionKeys(sv, ev, ovs, rt, sc)

	c := &ctx{p: p, sv: sv, ev: ev, rt: rt, items: sc.items[:0], stack: sc.stack[:0]}
	var kept []string // set once a key turns out to have no value
	a := arena{size: size}
	for i, k := range keys {
		ki := sv.keys[k]
		t, secret := trailOf(k, ki, ev, ovs, rt, &a)
		if len(t) == 0 || t[len(t)-1].Value.V == nil {
			// No value, or an explicit null that unsets what lower layers said.
			if kept == nil {
				kept = make([]string, i, len(keys))
				copy(kept, keys)
			}
			continue
		}
		if kept != nil {
			kept = append(kept, k)
		}
		w := t[len(t)-1].Value
		it := item{v: w.V, pos: w.Pos, trail: t, secret: secret, fromSecret: t[len(t)-1].Name == LayerSecret}
		if ki != nil {
			it.key = ki.key
		}
		c.items = append(c.items, it)
	}
	if kept != nil {
		keys = kept
	}
	c.keys = keys
	for i := range keys {
		c.finish(i)
	}
	sc.items, sc.stack = c.items, c.stack

	n := len(keys)
	res := &Resolved{
		Service:     sv.svc.Name,
		Environment: ev.env.Name,
		Keys:        keys,
		Values:      make(map[string]any, n),
		Sources:     make(map[string]strata.Pos, n),
		Trail:       make(map[string][]Layer, n),
		Secret:      make(map[string]bool),
		rt:          rt,
	}
	for i, k := range keys {
		it := &c.items[i]
		res.Values[k] = it.v
		res.Sources[k] = it.pos
		res.Trail[k] = it.trail
		if it.secret {
			res.Secret[k] = true
		}
	}
	return res, c.probs
}

// unionKeys returns, sorted, every key any layer sets for sv in ev.
//
// It also returns the number of layers the trails built for sv in ev take (the others are
// shared with the environment's view), so that one arena block holds them all.
func unionKeys(sv *svcView, ev *envView, ovs []ovEntry, rt *Runtime, sc *scratch) ([]string, int) {
	extra := sc.extra[:0]
	defer func() { sc.extra = extra }()
	add := func(k string) {
		if _, ok := ev.trail[k]; !ok && !slices.Contains(extra, k) {
			extra = append(extra, k)
		}
	}
	size := len(ovs) + 4
	for i, k := range sv.own {
		t, ok := ev.trail[k]
		if sv.ownDef[i] {
			size += 1 + len(t)
		}
		if !ok {
			extra = append(extra, k) // own is sorted and free of duplicates
		}
	}
	if rt != nil {
		size += len(rt.Secrets) + len(sv.own)
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
		return ev.keys, size
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
	return append(out, extra[j:]...), size
}

// trailOf returns the layers that set k, lowest first, and whether k is secret. A key the
// schema marks secret takes its value from the environment's own secrets only.
func trailOf(k string, ki *keyInfo, ev *envView, ovs []ovEntry, rt *Runtime, a *arena) ([]Layer, bool) {
	var sval string
	var hasSecret bool
	if rt != nil {
		sval, hasSecret = rt.Secrets[k]
	}
	if ki != nil && ki.key.Secret {
		switch {
		case hasSecret:
			return append(a.take(1), Layer{Name: LayerSecret, Value: strata.Value{V: sval}}), true
		case !rt.secretsKnown():
			return unknownSecret, true
		default:
			return nil, true
		}
	}
	et := ev.trail[k]
	hasDef := ki != nil && ki.hasDef
	nov := 0
	for _, o := range ovs {
		if o.key == k {
			nov++
		}
	}
	if !hasDef && nov == 0 && !hasSecret {
		return et, false
	}
	n := len(et) + nov
	if hasDef {
		n++
	}
	if hasSecret {
		n++
	}
	t := a.take(n)
	if hasDef {
		t = append(t, ki.def)
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
	return t, hasSecret
}

// arena hands out the trails of one resolution from a few shared blocks rather than one
// allocation per key. Each slice it returns has cap == its length to be, so that appending to
// one never writes into the next.
type arena struct {
	buf  []Layer
	size int
}

// take returns an empty slice with room for exactly n layers.
func (a *arena) take(n int) []Layer {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]Layer, 0, max(a.size, n))
	}
	l := len(a.buf)
	a.buf = a.buf[:l+n]
	return a.buf[l : l : l+n]
}

// scratch holds the buffers one resolution needs only while it runs, reused through
// scratchPool so that resolving thousands of configurations allocates little besides the
// results.
type scratch struct {
	items []item
	stack []string
	ovs   []ovEntry
	extra []string
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// release drops the references the buffers hold and returns them to the pool.
func (sc *scratch) release() {
	clear(sc.items[:cap(sc.items)])
	clear(sc.ovs[:cap(sc.ovs)])
	sc.stack = sc.stack[:0]
	sc.extra = sc.extra[:0]
	scratchPool.Put(sc)
}

// item is one key during a resolution.
type item struct {
	v     any // the value: as written, then final
	pos   strata.Pos
	trail []Layer
	key   *strata.Key // the schema entry, or nil
	// secret marks a secret value or one built from a secret; fromSecret one that came
	// from the secrets layer itself (and is never interpolated).
	secret, fromSecret bool
	state              uint8
}

// ctx is one resolution (or one Expand) in progress.
type ctx struct {
	p     *strata.Project
	sv    *svcView
	ev    *envView
	rt    *Runtime
	keys  []string
	items []item // parallel to keys
	stack []string
	probs []problem
	// res, for Expand, is the resolved config that config references read.
	res *Resolved
}

func (c *ctx) fail(pos strata.Pos, env string, msg ...string) {
	c.probs = append(c.probs, problem{pos: pos, msg: strings.Join(msg, ""), env: env})
}

// finish interpolates and fits the i'th key, once. It returns the key's state.
func (c *ctx) finish(i int) uint8 {
	it := &c.items[i]
	switch st := it.state; {
	case st&^stUnknown == stDone, st == stFailed:
		return st
	case st == stActive:
		return stActive
	}
	k := c.keys[i]
	it.state = stActive
	c.stack = append(c.stack, k)
	st := stDone
	if it.fromSecret && !c.rt.secretsKnown() {
		st |= stUnknown
	}
	v := it.v
	if s, ok := v.(string); ok && !it.fromSecret && strings.IndexByte(s, '$') >= 0 {
		rv, flags, ok := c.expand(s, it.pos, label{"config", k})
		switch {
		case !ok:
			st = stFailed
		case rv.v != nil:
			v = rv.v
		case rv.s != s:
			v = rv.s
		}
		if ok {
			st |= flags & stUnknown
			if flags&flagSecret != 0 {
				it.secret = true
			}
		}
	}
	if s, ok := v.(string); ok && st != stFailed && len(s) > MaxValueSize {
		what := "config " + k + ": the value"
		if it.fromSecret {
			what = "config " + k + ": the secret value"
		}
		c.fail(it.pos, c.envOf(it), what, " is ", strconv.Itoa(len(s)), " bytes, more than the ",
			strconv.Itoa(MaxValueSize>>10), " KiB a value may have; shorten it")
		st = stFailed
	}
	if st != stFailed && st&stUnknown == 0 && it.key != nil {
		fv, ok := c.fit(it, k, v)
		if !ok {
			st = stFailed
		}
		v = fv
	}
	it.v = v
	c.stack = c.stack[:len(c.stack)-1]
	it.state = st
	return st
}

// envOf names the environment a problem with it lies in, when that is where its value came
// from (a secret has no file position, so the environment says whose it is).
func (c *ctx) envOf(it *item) string {
	if it.fromSecret && c.ev != nil {
		return c.ev.env.Name
	}
	return ""
}
