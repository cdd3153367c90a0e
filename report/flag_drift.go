package report

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/flag"
)

// DriftFlag is the drift kind of a flag changed at run time so that it no longer behaves
// as the files say.
const DriftFlag = "flag"

// FlagDrift lists the flags whose runtime state makes them differ from strata.yaml, in
// env ("" for every environment): a value set that is not what the files give everyone,
// a rollout percent other than the file's, a kill. A state of a flag or environment the
// project no longer has is drift too: it would come back if they did.
func FlagDrift(ctx context.Context, e *engine.Engine, env string) ([]engine.DriftItem, error) {
	states, err := e.Store.FlagStates(ctx, env)
	if err != nil {
		return nil, err
	}
	var out []engine.DriftItem
	for _, st := range states {
		item := engine.DriftItem{Environment: st.Environment, Kind: DriftFlag, Flag: st.Flag}
		f, envDecl := flag.Find(e.Project, st.Flag), e.Project.Environment(st.Environment)
		if f == nil || envDecl == nil {
			continue // nothing the files say to differ from; the state acts on nothing
		}
		file := flag.Resolve(f, envDecl)
		var why []string
		if len(st.Value) > 0 {
			v, err := flag.DecodeValue(st.Value)
			if err == nil && (len(file.Rules) > 0 || file.Rollout != nil || !reflect.DeepEqual(v, file.Default)) {
				why = append(why, fmt.Sprintf("set to %s where the files say %s", flag.Show(v), describeFile(file)))
			}
		}
		if st.Percent != nil {
			filePct := 0
			if file.Rollout != nil {
				filePct = file.Rollout.Percent
			}
			if *st.Percent != filePct {
				why = append(why, fmt.Sprintf("rolled out to %d%% where the files say %d%%", *st.Percent, filePct))
			}
		}
		if st.Killed {
			why = append(why, "killed: "+st.KillReason)
		}
		if len(why) == 0 {
			continue
		}
		item.Detail = fmt.Sprintf("flag %s %s (by %s)", st.Flag, strings.Join(why, "; "), st.UpdatedBy)
		out = append(out, item)
	}
	return out, nil
}

func describeFile(r *flag.Resolved) string {
	s := "default " + flag.Show(r.Default)
	if len(r.Rules) > 0 {
		s += fmt.Sprintf(" with %d rule(s)", len(r.Rules))
	}
	if r.Rollout != nil {
		s += fmt.Sprintf(" and a %d%% rollout", r.Rollout.Percent)
	}
	return s
}
