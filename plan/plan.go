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
	// Recalls holds the recalls of the releases judged (RecallGate).
	Recalls map[Ref]*strata.Recall
}

// Request is a promotion, a direct deploy, a rollback or a runbook run to judge (Kind).
type Request struct {
	// Kind is what is asked for: a promotion ("" or KindPromotion), a direct deploy, a
	// rollback or a run. Each kind has its own set of gates (Gates).
	Kind    string
	ID      string
	Service string
	Version string
	// Task is the runbook of Service a run (KindRun) runs; its approvals are the run's.
	Task string
	// Stage is a promotion's target, narrowed to the environments it names when it names
	// some (Narrow). Nil for a deploy or a rollback, whose one environment is Environment.
	Stage       *strata.Stage
	Environment string
	// Members, when it holds more than one release, makes a promotion a release train: one
	// set of gates judged for every member. Service and Version are then its first member's.
	Members   []strata.Member
	Requester string
	Approvals []strata.Approval
	// Override opens closed deploy windows; OverrideBy (when known) and Reason say who and why.
	Override   bool
	OverrideBy string
	Reason     string
	// OverrideFreeze opens the freeze gate of a rollback (break glass); Reason says why.
	OverrideFreeze bool
}

// Request kinds.
const (
	KindPromotion = "promotion"
	KindDeploy    = "deploy"
	KindRollback  = "rollback"
	KindRun       = "run"
)

// Environments returns the environments r would change: its stage's, or its one environment.
func (r Request) Environments() []string {
	if r.Stage != nil {
		return r.Stage.Environments
	}
	if r.Environment != "" {
		return []string{r.Environment}
	}
	return nil
}

// Train returns the releases r moves: its members, or its one release.
func (r Request) Train() []strata.Member {
	if len(r.Members) > 0 {
		return r.Members
	}
	return []strata.Member{{Service: r.Service, Version: r.Version}}
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

// Gates evaluates every gate of r, all of them, in a fixed order. A promotion has six; a
// direct deploy has those that do not compare stages (approvals, window, freeze,
// dependencies); a rollback, which returns to a release that ran there, has window and
// freeze, each of which an audited override opens; a run of a runbook (`strata run`) has
// approvals (its runbook's) and freeze, and no window: a runbook is what an operator reaches
// for when something is wrong, at any hour.
func Gates(p *strata.Project, r Request, f Facts) []Gate {
	switch r.Kind {
	case KindRun:
		return []Gate{approvalsGate(p, r), freezeGate(r, f)}
	case KindDeploy:
		return []Gate{approvalsGate(p, r), windowGate(p, r, f), freezeGate(r, f), dependenciesGate(p, r, f)}
	case KindRollback:
		return []Gate{windowGate(p, r, f), freezeGate(r, f)}
	}
	idx := -1
	if r.Stage != nil {
		idx = p.StageIndex(r.Stage.Name)
	}
	return []Gate{
		previousGate(p, r, f, idx),
		soakGate(p, r, f, idx),
		approvalsGate(p, r),
		windowGate(p, r, f),
		freezeGate(r, f),
		dependenciesGate(p, r, f),
		recallGate(r, f),
	}
}

// DeployGates judges a direct deploy of service@version to env: Gates of a KindDeploy request.
func DeployGates(p *strata.Project, service, version, env, requester string, f Facts) []Gate {
	return Gates(p, Request{Kind: KindDeploy, Service: service, Version: version, Environment: env, Requester: requester}, f)
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
	if idx < 0 {
		g.Detail = "the environment is in no stage of the pipeline; no earlier stage to wait for"
		return g
	}
	if idx == 0 {
		g.Detail = "first stage of the pipeline"
		return g
	}
	var missing []string
	for _, m := range r.Train() {
		var where []string
		for _, st := range p.Pipeline[:idx] {
			for _, env := range st.Environments {
				if _, ok := everHealthy(f, m.Service, env, m.Version); !ok {
					where = append(where, st.Name+"/"+env)
				}
			}
		}
		if len(where) > 0 {
			missing = append(missing, fmt.Sprintf("%s@%s is not yet healthy in %s", m.Service, m.Version, strings.Join(where, ", ")))
		}
	}
	if len(missing) > 0 {
		g.OK = false
		g.Detail = strings.Join(missing, "; ") + "; promote it there first"
		return g
	}
	g.Detail = fmt.Sprintf("healthy in every environment of %s", p.Pipeline[idx-1].Name)
	return g
}

func soakGate(p *strata.Project, r Request, f Facts, idx int) Gate {
	g := Gate{Name: GateSoak, OK: true}
	var soak time.Duration
	for _, env := range r.Environments() {
		if e := p.Environment(env); e != nil {
			soak = max(soak, e.Policy.SoakTime())
		}
	}
	if soak == 0 || idx <= 0 {
		g.Detail = "no soak time required"
		return g
	}
	prev := p.Pipeline[idx-1]
	// A train has soaked once its last member to turn healthy has.
	var since time.Time
	for _, m := range r.Train() {
		for _, env := range prev.Environments {
			t, ok := everHealthy(f, m.Service, env, m.Version)
			if !ok {
				g.OK = false
				g.Detail = fmt.Sprintf("needs %s healthy in %s first; not yet healthy in %s", strata.Duration(soak), prev.Name, env)
				if len(r.Members) > 1 {
					g.Detail += fmt.Sprintf(" (%s@%s)", m.Service, m.Version)
				}
				return g
			}
			if t.After(since) {
				since = t
			}
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
	for _, env := range r.Environments() {
		if e := p.Environment(env); e != nil {
			need = max(need, e.Policy.ApprovalsNeeded())
		}
	}
	if r.Kind == KindRun {
		need = RunApprovals(p, r.Service, r.Task)
	}
	g := approvals(need, r.ID, r.Requester, r.Approvals)
	if !g.OK && r.Kind == KindDeploy && r.ID == "" {
		// Only a promotion collects approvals; `deploy` opens one (Request.ID is then its id).
		g.Detail = fmt.Sprintf("0 of %d approvals; only a promotion collects them: `strata promote %s@%s --to STAGE --only %s`, then someone other than %s runs `strata approve ID`",
			need, r.Service, r.Version, r.Environment, r.Requester)
	}
	return g
}

// RunApprovals is how many approvals a run of service's runbook task needs: the runbook's
// own, not its environment's (0 for a runbook the project does not declare).
func RunApprovals(p *strata.Project, service, task string) int {
	if svc := p.Service(service); svc != nil && svc.Runbooks[task] != nil {
		return svc.Runbooks[task].Approvals
	}
	return 0
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
	for _, env := range r.Environments() {
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
	case r.Kind == KindDeploy:
		g.OK = false
		g.Detail = strings.Join(closed, "; ") + "; deploy inside one, or an admin may `strata promote` with --only, --override-window and --reason"
	default:
		g.OK = false
		g.Detail = strings.Join(closed, "; ") + "; an admin may pass --override-window --reason"
	}
	return g
}

func freezeGate(r Request, f Facts) Gate {
	g := Gate{Name: GateFreeze, OK: true, Detail: "no environment is frozen"}
	var frozen []string
	for _, env := range r.Environments() {
		if fr := f.Frozen[env]; fr != nil {
			frozen = append(frozen, fmt.Sprintf("%s is frozen by %s (%s); `strata unfreeze %s` reopens it", env, fr.Actor, fr.Reason, env))
		}
	}
	switch {
	case len(frozen) == 0:
	case r.Kind == KindRollback && r.OverrideFreeze && r.OverrideBy != "":
		g.Detail = fmt.Sprintf("freeze overridden by %s: %s", r.OverrideBy, r.Reason)
	case r.Kind == KindRollback && r.OverrideFreeze:
		g.Detail = "freeze overridden: " + r.Reason
	case r.Kind == KindRollback:
		g.OK = false
		g.Detail = strings.Join(frozen, "; ") + "; or an admin or approver may pass --override-freeze --reason"
	default:
		g.OK = false
		g.Detail = strings.Join(frozen, "; ")
	}
	return g
}

// dependenciesGate asks that every depends_on service of every member runs healthy in each
// target environment, save a train's own members: the train deploys those first.
func dependenciesGate(p *strata.Project, r Request, f Facts) Gate {
	g := Gate{Name: GateDependencies, OK: true, Detail: "no dependencies"}
	inTrain := map[string]bool{}
	for _, m := range r.Train() {
		inTrain[m.Service] = true
	}
	var deps, missing []string
	for _, m := range r.Train() {
		svc := p.Service(m.Service)
		if svc == nil {
			continue
		}
		outside := &strata.Service{Name: svc.Name}
		for _, dep := range svc.DependsOn {
			if !inTrain[dep] || dep == svc.Name {
				outside.DependsOn = append(outside.DependsOn, dep)
				if !slices.Contains(deps, dep) {
					deps = append(deps, dep)
				}
			}
		}
		for _, env := range r.Environments() {
			missing = append(missing, MissingDependencies(outside, env, f)...)
		}
	}
	if len(deps) == 0 {
		return g
	}
	if len(missing) > 0 {
		g.OK = false
		g.Detail = strings.Join(missing, "; ")
		return g
	}
	g.Detail = fmt.Sprintf("%s deployed and healthy", strings.Join(deps, ", "))
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
