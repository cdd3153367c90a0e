package plan

import (
	"slices"

	"github.com/strata-dev/strata"
)

// TrainOrder returns the members of a release train in the order they deploy within each
// wave: every member after the members it depends on (its service's depends_on), otherwise
// in the order asked. configuration refuses cyclic depends_on; should one slip through, the
// members left are taken in the order asked.
func TrainOrder(p *strata.Project, members []strata.Member) []strata.Member {
	inTrain := map[string]bool{}
	for _, m := range members {
		inTrain[m.Service] = true
	}
	placed := map[string]bool{}
	var out []strata.Member
	left := slices.Clone(members)
	for len(left) > 0 {
		i := slices.IndexFunc(left, func(m strata.Member) bool {
			svc := p.Service(m.Service)
			if svc == nil {
				return true
			}
			for _, dep := range svc.DependsOn {
				if inTrain[dep] && !placed[dep] && dep != m.Service {
					return false
				}
			}
			return true
		})
		if i < 0 {
			i = 0
		}
		placed[left[i].Service] = true
		out = append(out, left[i])
		left = slices.Delete(left, i, i+1)
	}
	return out
}
