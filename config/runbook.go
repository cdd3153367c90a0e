package config

import (
	"github.com/strata-dev/strata"
	"go.yaml.in/yaml/v3"
)

// runbookKeys are the keys of a runbook written as a mapping.
var runbookKeys = []string{"run", "timeout", "policy"}

// decodeRunbooks reads a service's runbooks: each a command, or {run, timeout, policy:
// {approvals: N}}.
func (l *loader) decodeRunbooks(src *source, svc *strata.Service, n *yaml.Node, where string) {
	svc.Runbooks = map[string]*strata.Runbook{}
	pairs, _ := l.mapping(src, n, "runbooks of "+where, "{reindex: ./ops/reindex.sh}")
	for _, p := range pairs {
		at := src.pos(p.k)
		if msg := badName("runbook", p.key, "reindex"); msg != "" {
			l.errorf(at, "%s", msg)
			continue
		}
		rb := &strata.Runbook{Name: p.key}
		v := l.deref(src, p.v)
		if v != nil && v.Kind == yaml.MappingNode {
			// The step keys go to decodeStep; policy is the runbook's own.
			step := &yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, val := v.Content[i], v.Content[i+1]
				switch k.Value {
				case "policy":
					rb.Approvals = l.decodeRunbookPolicy(src, val, "policy of runbook "+quote(p.key)+" of "+where)
				case "run", "timeout":
					step.Content = append(step.Content, k, val)
				default:
					l.errorf(src.pos(k), "%s", unknownKey(k.Value, "runbook "+quote(p.key)+" of "+where, runbookKeys))
				}
			}
			p.v = step
		}
		st := l.decodeStep(src, p, "service "+quote(svc.Name), false)
		if st == nil {
			continue
		}
		rb.Step = *st
		svc.Runbooks[p.key] = rb
	}
}

// decodeRunbookPolicy reads {approvals: N}.
func (l *loader) decodeRunbookPolicy(src *source, n *yaml.Node, where string) int {
	pairs, _ := l.mapping(src, n, where, "{approvals: 1}")
	approvals := 0
	for _, p := range pairs {
		if p.key != "approvals" {
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, []string{"approvals"}))
			continue
		}
		if i, ok := l.integer(src, p.v, "approvals", "approvals: 1"); ok {
			if i < 0 || i > 1000 {
				l.errorf(src.pos(p.v), "approvals is %d; it must be a whole number from 0 (none needed) up, e.g. approvals: 1", i)
				continue
			}
			approvals = int(i)
		}
	}
	return approvals
}
