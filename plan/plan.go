// Package plan decides, without changing anything, what a promotion would do: which
// environments of a stage, in which waves, and which gates hold. It is pure: the store's
// facts and the clock are passed in, so every gate is testable without a database or sleep.
package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
)

// Waves returns the stage's environments in the waves they deploy in: the explicit lists
// when the stage names them, else Waves at a time in declaration order (all at once for 0).
func Waves(s *strata.Stage) [][]string {
	if len(s.WaveLists) > 0 {
		return s.WaveLists
	}
	if len(s.Environments) == 0 {
		return [][]string{}
	}
	n := s.Waves
	if n <= 0 || n > len(s.Environments) {
		n = len(s.Environments)
	}
	var out [][]string
	for i := 0; i < len(s.Environments); i += n {
		out = append(out, s.Environments[i:min(i+n, len(s.Environments))])
	}
	return out
}

// Pair names one service in one environment.
type Pair struct{ Service, Environment string }

// Facts is what the store knows that gates depend on.
type Facts struct {
	Now time.Time
	// Current is what runs in each pair: its newest succeeded deployment.
	Current map[Pair]*strata.Deployment
	// HealthySince says, per pair and version, when that version first ran there healthy.
	HealthySince map[Pair]map[string]time.Time
	// Frozen lists frozen environments.
	Frozen map[string]*strata.Freeze
}

// Request is a promotion to judge.
type Request struct {
	ID        string
	Service   string
	Version   string
	Stage     *strata.Stage
	Requester string
	Approvals []strata.Approval
	// Override opens closed deploy windows; OverrideBy (when known) and Reason say who and why.
	Override   bool
	OverrideBy string
	Reason     string
}

// Gate is one condition of a promotion: its name, whether it holds, and, when closed, what
// would open it.
type Gate struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Gate names.
const (
	GatePrevious     = "previous-stage"
	GateSoak         = "soak"
	GateApprovals    = "approvals"
	GateWindow       = "window"
	GateFreeze       = "freeze"
	GateDependencies = "dependencies"
)

// Open reports whether every gate holds.
func Open(gates []Gate) bool {
	for _, g := range gates {
		if !g.OK {
			return false
		}
	}
	return true
}

// Closed returns the gates that do not hold.
func Closed(gates []Gate) []Gate {
	var out []Gate
	for _, g := range gates {
		if !g.OK {
			out = append(out, g)
		}
	}
	return out
}

// Gates evaluates every gate of r, all of them, in a fixed order.
func Gates(p *strata.Project, r Request, f Facts) []Gate {
	svc := p.Service(r.Service)
	idx := p.StageIndex(r.Stage.Name)
	return []Gate{
		previousGate(p, r, f, idx),
		soakGate(p, r, f, idx),
		approvalsGate(p, r),
		windowGate(p, r, f),
		freezeGate(r, f),
		dependenciesGate(svc, r, f),
	}
}

// Healthy reports whether version runs healthy in the pair now.
func Healthy(f Facts, service, env, version string) bool {
	d := f.Current[Pair{service, env}]
	return d != nil && d.Version == version && d.Health != strata.Unhealthy
}

// everHealthy reports whether version has run healthy in the pair at some time.
func everHealthy(f Facts, service, env, version string) (time.Time, bool) {
	t, ok := f.HealthySince[Pair{service, env}][version]
	return t, ok
}

func previousGate(p *strata.Project, r Request, f Facts, idx int) Gate {
	g := Gate{Name: GatePrevious, OK: true}
	if idx <= 0 {
		g.Detail = "first stage of the pipeline"
		return g
	}
	var missing []string
	for _, st := range p.Pipeline[:idx] {
		for _, env := range st.Environments {
			if _, ok := everHealthy(f, r.Service, env, r.Version); !ok {
				missing = append(missing, st.Name+"/"+env)
			}
		}
	}
	if len(missing) > 0 {
		g.OK = false
		g.Detail = fmt.Sprintf("%s@%s is not yet healthy in %s; promote it there first", r.Service, r.Version, strings.Join(missing, ", "))
		return g
	}
	g.Detail = fmt.Sprintf("healthy in every environment of %s", p.Pipeline[idx-1].Name)
	return g
}

func soakGate(p *strata.Project, r Request, f Facts, idx int) Gate {
	g := Gate{Name: GateSoak, OK: true}
	var soak time.Duration
	for _, env := range r.Stage.Environments {
		if e := p.Environment(env); e != nil {
			soak = max(soak, e.Policy.SoakTime())
		}
	}
	if soak == 0 || idx <= 0 {
		g.Detail = "no soak time required"
		return g
	}
	prev := p.Pipeline[idx-1]
	var since time.Time
	for _, env := range prev.Environments {
		t, ok := everHealthy(f, r.Service, env, r.Version)
		if !ok {
			g.OK = false
			g.Detail = fmt.Sprintf("needs %s healthy in %s first; not yet healthy in %s", strata.Duration(soak), prev.Name, env)
			return g
		}
		if t.After(since) {
			since = t
		}
	}
	if left := soak - f.Now.Sub(since); left > 0 {
		g.OK = false
		g.Detail = fmt.Sprintf("healthy in %s for %s of %s; opens at %s (in %s)", prev.Name,
			strata.Duration(f.Now.Sub(since).Truncate(time.Second)), strata.Duration(soak),
			since.Add(soak).UTC().Format(time.RFC3339), strata.Duration(left.Round(time.Second)))
		return g
	}
	g.Detail = fmt.Sprintf("healthy in %s for %s (needs %s)", prev.Name, strata.Duration(f.Now.Sub(since).Truncate(time.Second)), strata.Duration(soak))
	return g
}

func approvalsGate(p *strata.Project, r Request) Gate {
	need := 0
	for _, env := range r.Stage.Environments {
		if e := p.Environment(env); e != nil {
			need = max(need, e.Policy.ApprovalsNeeded())
		}
	}
	return approvals(need, r.ID, r.Requester, r.Approvals)
}

// approvals is the approvals gate of anything that needs need approvals from principals
// other than requester (a promotion, a group switch): id is what `strata approve` names.
func approvals(need int, id, requester string, given []strata.Approval) Gate {
	g := Gate{Name: GateApprovals, OK: true}
	var by []string
	for _, a := range given {
		if a.Principal != requester && !slices.Contains(by, a.Principal) {
			by = append(by, a.Principal)
		}
	}
	switch {
	case need == 0:
		g.Detail = "no approvals required"
	case len(by) >= need:
		g.Detail = fmt.Sprintf("approved by %s", strings.Join(by, ", "))
	default:
		g.OK = false
		if id == "" {
			id = "ID"
		}
		g.Detail = fmt.Sprintf("%d of %d approvals; someone other than %s runs `strata approve %s`", len(by), need, requester, id)
	}
	return g
}

func windowGate(p *strata.Project, r Request, f Facts) Gate {
	g := Gate{Name: GateWindow, OK: true}
	var closed []string
	for _, env := range r.Stage.Environments {
		e := p.Environment(env)
		if e == nil || len(e.Policy.Windows) == 0 {
			continue
		}
		open, next := false, time.Time{}
		for _, w := range e.Policy.Windows {
			if w.Contains(f.Now) {
				open = true
				break
			}
			if n := w.NextOpen(f.Now); !n.IsZero() && (next.IsZero() || n.Before(next)) {
				next = n
			}
		}
		if !open {
			msg := env + " is outside its deploy windows"
			if !next.IsZero() {
				msg += " until " + next.UTC().Format(time.RFC3339)
			}
			closed = append(closed, msg)
		}
	}
	switch {
	case len(closed) == 0:
		g.Detail = "inside every deploy window"
	case r.Override && r.OverrideBy == "":
		g.Detail = "window overridden: " + r.Reason
	case r.Override:
		g.Detail = fmt.Sprintf("window overridden by %s: %s", r.OverrideBy, r.Reason)
	default:
		g.OK = false
		g.Detail = strings.Join(closed, "; ") + "; an admin may pass --override-window --reason"
	}
	return g
}

func freezeGate(r Request, f Facts) Gate {
	g := Gate{Name: GateFreeze, OK: true, Detail: "no environment is frozen"}
	var frozen []string
	for _, env := range r.Stage.Environments {
		if fr := f.Frozen[env]; fr != nil {
			frozen = append(frozen, fmt.Sprintf("%s is frozen by %s (%s); `strata unfreeze %s` reopens it", env, fr.Actor, fr.Reason, env))
		}
	}
	if len(frozen) > 0 {
		g.OK = false
		g.Detail = strings.Join(frozen, "; ")
	}
	return g
}

func dependenciesGate(svc *strata.Service, r Request, f Facts) Gate {
	g := Gate{Name: GateDependencies, OK: true, Detail: "no dependencies"}
	if svc == nil || len(svc.DependsOn) == 0 {
		return g
	}
	var missing []string
	for _, env := range r.Stage.Environments {
		missing = append(missing, MissingDependencies(svc, env, f)...)
	}
	if len(missing) > 0 {
		g.OK = false
		g.Detail = strings.Join(missing, "; ")
		return g
	}
	g.Detail = fmt.Sprintf("%s deployed and healthy", strings.Join(svc.DependsOn, ", "))
	return g
}

// MissingDependencies lists, as sentences, the depends_on services of svc that are not
// deployed and healthy in env.
func MissingDependencies(svc *strata.Service, env string, f Facts) []string {
	var out []string
	for _, dep := range svc.DependsOn {
		d := f.Current[Pair{dep, env}]
		switch {
		case d == nil:
			out = append(out, fmt.Sprintf("%s depends on %s, which is not deployed in %s; deploy it there first", svc.Name, dep, env))
		case d.Health == strata.Unhealthy:
			out = append(out, fmt.Sprintf("%s depends on %s, which is unhealthy in %s (%s)", svc.Name, dep, env, d.Version))
		}
	}
	return out
}

// NextStage returns the first stage in which version has not yet run healthy in every
// environment: where `promote` without --to goes. Nil when it has been healthy everywhere.
func NextStage(p *strata.Project, service, version string, f Facts) *strata.Stage {
	for _, st := range p.Pipeline {
		for _, env := range st.Environments {
			if _, ok := everHealthy(f, service, env, version); !ok {
				return st
			}
		}
	}
	return nil
}
