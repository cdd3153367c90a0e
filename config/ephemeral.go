package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
)

// AddEphemeral adds the short-lived environment env (recorded in the store by `strata env
// create`) to p, made as if strata.yaml declared it with `extends: LIKE`: it inherits Like's
// labels (env.Labels laid over them), config and service overrides through the extends
// chain, and Like's policy but for its windows and approvals (unless env.InheritPolicy);
// its own config is env.Set (`--set`); it joins no pipeline stage.
//
// A name that breaks the environment name rule, or a label key that breaks the label rule,
// is EINVALID; a name p declares already is ECONFLICT; an unknown Like is ENOTFOUND naming
// the environments there are. ValidEphemeral runs the same checks without changing p.
func AddEphemeral(p *strata.Project, env *strata.EphemeralEnv) error {
	parent, err := ValidEphemeral(p, env)
	if err != nil {
		return err
	}
	e := &strata.Environment{
		Name:      env.Name,
		Extends:   parent.Name,
		OwnLabels: maps.Clone(env.Labels),
		Labels:    map[string]string{},
		LabelPos:  map[string]strata.Pos{},
		Config:    map[string]strata.Value{},
		Policy:    ephemeralPolicy(parent.Policy, env.InheritPolicy),
		RunsOn:    parent.RunsOn,
		RunsOnPos: parent.RunsOnPos,
		Ephemeral: true,
		Expires:   env.Expires,
		Created:   env.CreatedAt,
	}
	if e.OwnLabels == nil {
		e.OwnLabels = map[string]string{}
	}
	// Its own config is what --set gave, as written; the source says who set it and when.
	set := strata.Pos{File: fmt.Sprintf("--set by %s at %s", env.CreatedBy, env.CreatedAt.UTC().Format(time.RFC3339))}
	for k, v := range env.Set {
		e.Config[k] = strata.Value{V: v, Pos: set}
	}
	maps.Copy(e.Labels, parent.Labels)
	maps.Copy(e.LabelPos, parent.LabelPos)
	for k, v := range env.Labels {
		e.Labels[k] = v
		e.LabelPos[k] = strata.Pos{}
	}
	e.Chain = append(slices.Clone(parent.Chain), e)
	if len(parent.Chain) == 0 {
		e.Chain = []*strata.Environment{parent, e}
	}
	p.Environments = append(p.Environments, e)
	return nil
}

// ephemeralPolicy is the policy of a short-lived environment made like one with parent: it
// is in no stage, so the parent's deploy windows and approvals, which guard a stage's way
// to production, are not its own unless inherit asks for them (`--policy inherit`).
func ephemeralPolicy(parent strata.Policy, inherit bool) strata.Policy {
	if inherit {
		return parent
	}
	parent.Approvals, parent.Windows = nil, nil
	return parent
}

// ValidEphemeral checks that env can be added to p (see AddEphemeral) and returns the
// declared environment it is like.
func ValidEphemeral(p *strata.Project, env *strata.EphemeralEnv) (*strata.Environment, error) {
	if msg := badName("environment", env.Name, "pr-42"); msg != "" {
		return nil, strata.Errorf(strata.EINVALID, "%s", msg)
	}
	if have := p.Environment(env.Name); have != nil {
		if have.Ephemeral {
			return nil, strata.Errorf(strata.ECONFLICT, "environment %q exists already (made by `strata env create`); destroy it first or choose another name", env.Name)
		}
		return nil, strata.Errorf(strata.ECONFLICT, "environment %q is declared in %s; choose another name", env.Name, where(p, have))
	}
	for _, k := range slices.Sorted(maps.Keys(env.Labels)) {
		switch {
		case k == "name":
			return nil, strata.Errorf(strata.EINVALID, "label \"name\" is reserved (selectors use it for the environment's name); choose another key")
		case !labelKeyRE.MatchString(k):
			return nil, strata.Errorf(strata.EINVALID, "label key %q is not valid; use letters, digits, '-', '_', '.' and '/' (e.g. owner)", k)
		}
	}
	parent := p.Environment(env.Like)
	if parent == nil || parent.Ephemeral {
		var declared []string
		for _, e := range p.Environments {
			if !e.Ephemeral {
				declared = append(declared, e.Name)
			}
		}
		what := "an unknown"
		if parent != nil {
			what = "a short-lived"
		}
		return nil, strata.Errorf(strata.ENOTFOUND, "--like %q names %s environment%s; a short-lived environment is made like a declared one: %s",
			env.Like, what, didYouMean(env.Like, declared), strings.Join(declared, ", "))
	}
	return parent, nil
}

// where names the place an environment is declared, or the project file.
func where(p *strata.Project, e *strata.Environment) string {
	if !e.Pos.IsZero() {
		return e.Pos.String()
	}
	return p.File
}
