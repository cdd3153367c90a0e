package plan

import (
	"strings"

	"github.com/strata-dev/strata"
)

// Narrow returns the part of stage st that only names: its environments among only, in the
// stage's order, in the stage's waves (a wave left empty is dropped). With only empty it
// returns st itself. An environment outside the stage is EINVALID naming the --only flag
// and the stage's environments, and so is one named twice.
func Narrow(st *strata.Stage, only []string) (*strata.Stage, error) {
	if len(only) == 0 {
		return st, nil
	}
	want := map[string]bool{}
	for _, env := range only {
		in := false
		for _, e := range st.Environments {
			in = in || e == env
		}
		if !in {
			return nil, strata.Errorf(strata.EINVALID, "--only %s: not an environment of stage %s; its environments are %s",
				env, st.Name, strings.Join(st.Environments, ", "))
		}
		if want[env] {
			return nil, strata.Errorf(strata.EINVALID, "--only %s: named twice", env)
		}
		want[env] = true
	}
	n := &strata.Stage{Name: st.Name, Auto: st.Auto, Pos: st.Pos}
	for _, env := range st.Environments {
		if want[env] {
			n.Environments = append(n.Environments, env)
		}
	}
	for _, wave := range Waves(st) {
		var kept []string
		for _, env := range wave {
			if want[env] {
				kept = append(kept, env)
			}
		}
		if len(kept) > 0 {
			n.WaveLists = append(n.WaveLists, kept)
		}
	}
	return n, nil
}
