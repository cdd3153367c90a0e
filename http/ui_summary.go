package http

import (
	"cmp"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
)

// The matrix opens with a summary (issue 14, point 2): how many environments the selection
// holds and how many of them have a failed, unhealthy or running cell, the promotions
// waiting, and per service the versions that run and in how many environments each. The
// rows can be narrowed to one of those states (?state=failed|unhealthy|running) and come a
// page at a time (?page=), so the page stays small at 10,000 environments.

// matrixPage is how many environments one page of the matrix shows.
const matrixPage = 200

// rowFlags says which states an environment's cells are in.
type rowFlags struct{ failed, unhealthy, running bool }

// has reports whether the flags hold the state a ?state= filter names ("" holds always).
func (f rowFlags) has(state string) bool {
	switch state {
	case "failed":
		return f.failed
	case "unhealthy":
		return f.unhealthy
	case "running":
		return f.running
	}
	return true
}

// matrixStates are the states the summary counts and ?state= accepts.
var matrixStates = []string{"failed", "unhealthy", "running"}

// cellState is the state a cell of env shows for service: the state of the pair's newest
// deployment, "interrupted" when its process is gone, "unhealthy" when what runs succeeded
// but its health check now fails, "" when nothing was deployed there.
func cellState(env *strata.Environment, service string, snap *matrixSnapshot, gone map[string]bool) string {
	k := pairKey{Service: service, Environment: env.Name}
	cur, latest := snap.of(env, service)
	if latest == nil {
		return ""
	}
	if gone[latest.ID] {
		return strata.Interrupted
	}
	if latest.State == strata.Succeeded && cur != nil && cur.healthNow(snap.health[k]) == strata.Unhealthy {
		return "unhealthy"
	}
	return latest.State
}

// flagsOf returns which states env's cells are in.
func flagsOf(env *strata.Environment, services []*strata.Service, snap *matrixSnapshot, gone map[string]bool) rowFlags {
	var f rowFlags
	for _, s := range services {
		switch cellState(env, s.Name, snap, gone) {
		case strata.Failed:
			f.failed = true
		case "unhealthy":
			f.unhealthy = true
		case strata.Running, strata.Pending:
			f.running = true
		}
	}
	return f
}

// matrixSummary is the head of the matrix page.
type matrixSummary struct {
	Environments int
	// Counts are the environments with a cell in each state, in matrixStates' order.
	Counts   []stateCount
	Waiting  int
	Services []serviceVersions
}

// stateCount is how many environments have a cell in State, and the address that shows
// just them.
type stateCount struct {
	State string
	N     int
	Link  string
}

// serviceVersions is which versions of a service run, and in how many environments each,
// most first (at most five; Others counts the environments of the rest).
type serviceVersions struct {
	Service  string
	Versions []versionCount
	Others   int
}

type versionCount struct {
	Version string
	N       int
}

// summarize counts the selection: envs passed the label and name filters (not the state
// filter); versions counts what runs per service and version among them.
func summarize(q url.Values, envs int, counts map[string]int, versions map[string]map[string]int, services []string, waiting int) matrixSummary {
	sum := matrixSummary{Environments: envs, Waiting: waiting}
	for _, st := range matrixStates {
		link := url.Values{}
		maps.Copy(link, q)
		link.Set("state", st)
		link.Del("page")
		sum.Counts = append(sum.Counts, stateCount{State: st, N: counts[st], Link: "/?" + link.Encode()})
	}
	for _, svc := range services {
		sv := serviceVersions{Service: svc}
		for v, n := range versions[svc] {
			sv.Versions = append(sv.Versions, versionCount{Version: v, N: n})
		}
		slices.SortFunc(sv.Versions, func(a, b versionCount) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Version, b.Version)) })
		if len(sv.Versions) > 5 {
			for _, vc := range sv.Versions[5:] {
				sv.Others += vc.N
			}
			sv.Versions = sv.Versions[:5]
		}
		sum.Services = append(sum.Services, sv)
	}
	return sum
}

// pageLinks returns the addresses of the pages before and after page (1-based) of n rows,
// "" where there is none.
func pageLinks(q url.Values, page, n int) (prev, next string) {
	at := func(p int) string {
		link := url.Values{}
		maps.Copy(link, q)
		link.Set("page", strconv.Itoa(p))
		return "/?" + link.Encode()
	}
	if page > 1 {
		prev = at(page - 1)
	}
	if page*matrixPage < n {
		next = at(page + 1)
	}
	return prev, next
}

// failuresFirst orders a release's environments so that those where it failed, was rolled
// back or runs unhealthy come first, then those where it is on its way, then the rest, each
// in the order they came: at 1,000 environments the failures must not be at the bottom.
func failuresFirst(runs []runRow) {
	rank := func(r runRow) int {
		switch {
		case r.State == strata.Failed || r.State == strata.RolledBack || r.State == strata.Interrupted || r.Health == strata.Unhealthy:
			return 0
		case r.State == strata.Running || r.State == strata.Pending:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(runs, func(a, b runRow) int { return cmp.Compare(rank(a), rank(b)) })
}

// collapse returns one summary row per value of the label group among envs (those
// without it last), each linking to the matrix filtered to that value.
func collapse(envs []*strata.Environment, group string, q url.Values, services []*strata.Service, snap *matrixSnapshot, gone map[string]bool) []matrixGroup {
	byLabel := map[string]*matrixGroup{}
	var order []string
	for _, env := range envs {
		label, filter := "no "+group, ""
		if val, ok := env.Labels[group]; ok {
			label, filter = group+"="+val, group+"="+val
		}
		g := byLabel[label]
		if g == nil {
			link := url.Values{}
			maps.Copy(link, q)
			link.Del("collapse")
			link.Del("page")
			if filter != "" {
				link.Add("label", filter)
			}
			g = &matrixGroup{Label: label, Expand: "/?" + link.Encode()}
			byLabel[label] = g
			order = append(order, label)
		}
		g.N++
		f := flagsOf(env, services, snap, gone)
		if f.failed {
			g.Failed++
		}
		if f.unhealthy {
			g.Unhealthy++
		}
		if f.running {
			g.Running++
		}
	}
	slices.SortFunc(order, func(a, b string) int {
		last := func(s string) bool { return strings.HasPrefix(s, "no ") }
		if last(a) != last(b) {
			if last(a) {
				return 1
			}
			return -1
		}
		return cmp.Compare(a, b)
	})
	out := make([]matrixGroup, 0, len(order))
	for _, l := range order {
		out = append(out, *byLabel[l])
	}
	return out
}
