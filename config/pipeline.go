package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/strata-dev/strata"
	"go.yaml.in/yaml/v3"
)

var stageKeys = []string{"stage", "environments", "auto", "waves"}

// stageMeta keeps where the parts of a stage were written, for checks that need every
// environment.
type stageMeta struct {
	st       *strata.Stage
	namePos  []strata.Pos
	envPos   strata.Pos
	wavesPos strata.Pos
	wavePos  [][]strata.Pos
}

func (l *loader) decodePipeline(src *source, n *yaml.Node) {
	items, _ := l.sequence(src, n, "pipeline", "pipeline: [{stage: dev, environments: [dev]}]")
	for _, it := range items {
		l.decodeStage(src, it)
	}
}

func (l *loader) decodeStage(src *source, n *yaml.Node) {
	n = l.deref(src, n)
	if n == nil {
		return
	}
	at := src.pos(n)
	pairs, ok := l.mapping(src, n, "a pipeline stage", "{stage: prod, environments: {tier: prod}}")
	if !ok {
		return
	}
	m := &stageMeta{st: &strata.Stage{Pos: at}}
	st := m.st
	hasEnvs := false
	where := "a pipeline stage"
	for _, p := range pairs {
		if p.key == "stage" {
			if s, ok := l.scalar(src, p.v, "stage", "stage: prod"); ok {
				st.Name = s
				where = "stage " + quote(s)
			}
		}
	}
	for _, p := range pairs {
		switch p.key {
		case "stage":
		case "environments":
			hasEnvs = true
			l.decodeStageEnvs(src, m, p.v, where)
		case "auto":
			st.Auto, _ = l.boolean(src, p.v, "auto")
		case "waves":
			l.decodeWaves(src, m, p.v, where)
		default:
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, stageKeys))
		}
	}
	if st.Name == "" {
		l.errorf(at, "a pipeline stage has no name; add e.g. stage: prod")
	} else if msg := badName("stage", st.Name, "prod"); msg != "" {
		l.errorf(at, "%s", msg)
	}
	if !hasEnvs {
		l.errorf(at, "%s has no environments; add e.g. environments: [staging] or environments: {tier: prod}", where)
	}
	if st.Name == "" {
		return
	}
	if prev, dup := l.stages[st.Name]; dup {
		l.errorf(at, "stage %q is defined twice: here and at %s; rename or remove one", st.Name, prev.st.Pos)
		return
	}
	l.stages[st.Name] = m
	l.stageList = append(l.stageList, m)
	l.p.Pipeline = append(l.p.Pipeline, st)
}

func (l *loader) decodeStageEnvs(src *source, m *stageMeta, n *yaml.Node, where string) {
	n = l.deref(src, n)
	if n == nil {
		return
	}
	m.envPos = src.pos(n)
	switch n.Kind {
	case yaml.SequenceNode:
		seen := map[string]strata.Pos{}
		for _, it := range n.Content {
			s, ok := l.scalar(src, it, "an environment of "+where, "prod-us")
			if !ok {
				continue
			}
			at := src.pos(l.deref(src, it))
			if prev, dup := seen[s]; dup {
				l.errorf(at, "%s names environment %q twice (first at %s); remove one", where, s, prev)
				continue
			}
			seen[s] = at
			m.st.Names = append(m.st.Names, s)
			m.namePos = append(m.namePos, at)
		}
		if len(n.Content) == 0 {
			l.errorf(m.envPos, "%s lists no environments; name some, e.g. [staging]", where)
		}
	case yaml.MappingNode:
		pairs, _ := l.mapping(src, n, "the selector of "+where, "{tier: prod}")
		m.st.Selector = map[string]string{}
		for _, p := range pairs {
			if s, ok := l.scalar(src, p.v, "label "+p.key, "tier: prod"); ok {
				m.st.Selector[p.key] = s
			}
		}
		if len(pairs) == 0 {
			l.errorf(m.envPos, "the selector of %s is empty; name labels, e.g. {tier: prod}", where)
		}
	default:
		l.errorf(m.envPos, "environments of %s should be a list of names or a label selector, found %s; write e.g. [staging] or {tier: prod}", where, kindName(n))
	}
}

func (l *loader) decodeWaves(src *source, m *stageMeta, n *yaml.Node, where string) {
	n = l.deref(src, n)
	if n == nil {
		return
	}
	m.wavesPos = src.pos(n)
	if n.Kind != yaml.SequenceNode {
		i, ok := l.integer(src, n, "waves", "waves: 1 or waves: [[prod-us], [prod-eu]]")
		if !ok {
			return
		}
		if i < 0 || i > 1<<20 {
			l.errorf(m.wavesPos, "waves is %d; write how many environments deploy at a time (0 for all at once), or name the waves: [[prod-us], [prod-eu]]", i)
			return
		}
		m.st.Waves = int(i)
		return
	}
	m.st.WaveLists = [][]string{}
	for _, w := range n.Content {
		items, ok := l.sequence(src, w, "a wave of "+where, "[prod-us, prod-eu]")
		if !ok {
			continue
		}
		if len(items) == 0 {
			l.errorf(src.pos(l.deref(src, w)), "an empty wave in %s; remove it or name its environments", where)
			continue
		}
		var names []string
		var poss []strata.Pos
		for _, it := range items {
			if s, ok := l.scalar(src, it, "an environment of a wave", "prod-us"); ok {
				names = append(names, s)
				poss = append(poss, src.pos(l.deref(src, it)))
			}
		}
		m.st.WaveLists = append(m.st.WaveLists, names)
		m.wavePos = append(m.wavePos, poss)
	}
	if len(n.Content) == 0 {
		l.errorf(m.wavesPos, "waves of %s is an empty list; name the waves, e.g. [[prod-us], [prod-eu]], or write a number", where)
	}
}

// resolvePipeline fills each stage's membership, in environment declaration order, checks
// the names and waves, and warns of environments in no stage.
func (l *loader) resolvePipeline() {
	envNames := l.p.EnvironmentNames()
	labelValues := map[string]map[string]bool{}
	for _, e := range l.p.Environments {
		for k, v := range e.Labels {
			if labelValues[k] == nil {
				labelValues[k] = map[string]bool{}
			}
			labelValues[k][v] = true
		}
	}
	inStage := map[string]bool{}
	for _, m := range l.stageList {
		st := m.st
		where := "stage " + quote(st.Name)
		st.Environments = []string{}
		if st.Selector != nil && l.groupStage(m, where) {
			// A group's members by role: every member may take the role after a switch.
			if g := l.p.Group(st.Group); g != nil {
				for _, name := range g.Environments {
					inStage[name] = true
				}
			}
		} else if st.Selector != nil {
			for _, e := range l.p.Environments {
				if strata.Matches(st.Selector, e.Name, e.Labels) {
					st.Environments = append(st.Environments, e.Name)
				}
			}
			if len(st.Selector) > 0 && len(st.Environments) == 0 {
				l.errorf(m.envPos, "the selector of %s (%s) selects no environment; %s", where, selectorText(st.Selector), labelHint(st.Selector, labelValues))
			}
		} else {
			want := map[string]bool{}
			for i, name := range st.Names {
				if _, ok := l.envs[name]; !ok {
					l.errorf(m.namePos[i], "%s names the unknown environment %q%s; environments: %s", where, name, didYouMean(name, envNames), listSome(envNames))
					continue
				}
				want[name] = true
			}
			for _, e := range l.p.Environments {
				if want[e.Name] {
					st.Environments = append(st.Environments, e.Name)
				}
			}
		}
		for _, name := range st.Environments {
			inStage[name] = true
		}
		l.checkWaves(m, where)
	}
	for _, e := range l.p.Environments {
		if !inStage[e.Name] {
			l.warnf(e.Pos, "environment %q is in no pipeline stage; releases reach it only one by one, by `strata deploy` or `strata promote SERVICE@VERSION --to env:%s`: add it to a stage for promotions to move through it", e.Name, e.Name)
		}
	}
}

func (l *loader) checkWaves(m *stageMeta, where string) {
	st := m.st
	if st.WaveLists == nil {
		return
	}
	member := map[string]bool{}
	for _, n := range st.Environments {
		member[n] = true
	}
	seen := map[string]strata.Pos{}
	for i, wave := range st.WaveLists {
		for j, name := range wave {
			at := m.wavePos[i][j]
			if prev, dup := seen[name]; dup {
				l.errorf(at, "the waves of %s name %q twice (first at %s); each environment deploys in one wave", where, name, prev)
				continue
			}
			seen[name] = at
			if !member[name] {
				l.errorf(at, "the waves of %s name %q, which is not in the stage%s; the stage holds: %s", where, name, didYouMean(name, st.Environments), listSome(st.Environments))
			}
		}
	}
	var missing []string
	for _, n := range st.Environments {
		if _, ok := seen[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		l.errorf(m.wavesPos, "the waves of %s leave out %s; add them to a wave", where, listSome(missing))
	}
}

func selectorText(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sel[k]
	}
	return strings.Join(parts, ", ")
}

// labelHint says which values the selector's labels do take, so a typo shows.
func labelHint(sel map[string]string, values map[string]map[string]bool) string {
	var hints []string
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		if k == "name" {
			continue
		}
		vals := slices.Sorted(maps.Keys(values[k]))
		if len(vals) == 0 {
			hints = append(hints, fmt.Sprintf("no environment has the label %q", k))
			continue
		}
		if !values[k][sel[k]] {
			hints = append(hints, fmt.Sprintf("%s is one of: %s%s", k, listSome(vals), didYouMean(sel[k], vals)))
		}
	}
	if len(hints) == 0 {
		return "no environment has all of these labels together"
	}
	return strings.Join(hints, "; ")
}
