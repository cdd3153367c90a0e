package strata

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Project is one strata.yaml and the files it includes: the whole estate. The config package
// builds it and resolves what can be resolved without a store (labels and policy through
// extends, stage membership); the layer package resolves configuration values.
type Project struct {
	Name string
	// Dir is the absolute directory holding strata.yaml; steps run here.
	Dir string
	// File is the path of strata.yaml as messages show it (relative to the working
	// directory where possible).
	File string
	// Defaults is defaults.config: values every service sees in every environment.
	Defaults map[string]Value
	// Environments, Services and Pipeline keep the order the files declare them.
	Environments []*Environment
	Services     []*Service
	Pipeline     []*Stage
	// Notify lists webhook URLs that receive promotion events.
	Notify []Notify
	// Digest is a sha256 over every file read for the project, in reading order: the same
	// files give the same digest, so a check that passed once need not run again.
	Digest string
	// Flags are the feature flags strata.yaml declares, in declaration order.
	Flags []*Flag

	// index finds environments by name without a scan (Environment); nil until Index.
	index *nameIndex
}

// Notify is one webhook that receives promotion events.
type Notify struct {
	URL    string
	Events []string // empty means every event
	Pos    Pos
}

// Environment is a named place to deploy.
type Environment struct {
	Name string
	Pos  Pos
	// Extends names the parent environment ("" for none); ExtendsPos is where.
	Extends    string
	ExtendsPos Pos
	// OwnLabels are the labels this environment declares; Labels are resolved through the
	// extends chain (the child wins key by key). LabelPos says where each resolved label was set.
	OwnLabels map[string]string
	Labels    map[string]string
	LabelPos  map[string]Pos
	// Config is this environment's own config (not its ancestors').
	Config map[string]Value
	// OwnPolicy is the policy this environment declares; Policy is resolved through extends.
	OwnPolicy Policy
	Policy    Policy
	// OwnRunsOn is the pool of agents this environment declares (runs_on); RunsOn is resolved
	// through extends, "" when its steps run where the CLI or serve runs. RunsOnPos says where
	// the resolved value was written.
	OwnRunsOn string
	RunsOn    string
	RunsOnPos Pos
	// Chain is the extends chain, oldest ancestor first, ending with this environment.
	Chain []*Environment
	// Ephemeral environments are made by `strata env create` and live in the store; Expires
	// is zero when they have no time to live.
	Ephemeral bool
	Expires   time.Time
	// Created is when an ephemeral environment was made: deployments from before it belong
	// to an earlier environment of the same name.
	Created time.Time
	// Flags are this environment's own flag overrides, by flag key (its ancestors' are
	// theirs: package flag layers them through Chain).
	Flags map[string]*Flag
	// OwnSecrets are the secret sources this environment declares
	// (environments.NAME.secrets.KEY: SOURCE); SecretSource resolves them through extends.
	OwnSecrets map[string]SecretRef
}

// SecretRef names where an environment keeps one secret key outside Strata's own age files:
// "sops:PATH#KEY", "vault:MOUNT/PATH#KEY" or "exec:COMMAND" (package secret reads them).
type SecretRef struct {
	Source string
	Pos    Pos
}

// SecretSource returns the source of key in env: its own, else the nearest ancestor's
// through extends. A key without one is kept in the environment's age file.
func (env *Environment) SecretSource(key string) (SecretRef, bool) {
	chain := env.Chain
	if len(chain) == 0 {
		chain = []*Environment{env}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if r, ok := chain[i].OwnSecrets[key]; ok {
			return r, true
		}
	}
	return SecretRef{}, false
}

// Predates reports whether d was made in an earlier short-lived environment of env's name,
// before env was made: it is not of env, and nothing that shows what is in env counts it.
// A nil env (one the project no longer has) predates nothing. The newest deployment of a
// pair predates env only when all of them do, so reading the newest and dropping it when it
// predates env is the same as skipping those first.
func (env *Environment) Predates(d *Deployment) bool {
	return env != nil && env.Ephemeral && d.CreatedAt.Before(env.Created)
}

// Policy holds an environment's deployment rules. Nil fields are unset, so that extends can
// tell "not said" from "said zero".
type Policy struct {
	Approvals *int      `json:"approvals,omitempty"`
	Windows   []Window  `json:"windows,omitempty"`
	Soak      *Duration `json:"soak,omitempty"`
	// FlagApprovals is how many approvals a runtime flag change needs (0 when unset).
	FlagApprovals *int `json:"flag_approvals,omitempty"`
	Pos           Pos  `json:"-"`
}

// Merge returns p with every field that child sets replaced by child's.
func (p Policy) Merge(child Policy) Policy {
	out := p
	if child.Approvals != nil {
		out.Approvals = child.Approvals
	}
	if child.Windows != nil {
		out.Windows = child.Windows
	}
	if child.Soak != nil {
		out.Soak = child.Soak
	}
	if child.FlagApprovals != nil {
		out.FlagApprovals = child.FlagApprovals
	}
	if !child.Pos.IsZero() {
		out.Pos = child.Pos
	}
	return out
}

// ApprovalsNeeded is the number of approvals the policy asks for (0 when unset).
func (p Policy) ApprovalsNeeded() int {
	if p.Approvals == nil {
		return 0
	}
	return *p.Approvals
}

// SoakTime is the soak the policy asks for (0 when unset).
func (p Policy) SoakTime() time.Duration {
	if p.Soak == nil {
		return 0
	}
	return time.Duration(*p.Soak)
}

// Service is a deployable unit.
type Service struct {
	Name string
	Pos  Pos
	// Build makes the artifacts once per release; Deploy puts a release into an environment;
	// Destroy removes it; Observe reports the version actually running. Nil when not declared.
	Build   *Step
	Deploy  *Step
	Destroy *Step
	Observe *Step
	Health  *Health
	// Rollback is "previous" (redeploy the last good release on failed health) or "none".
	Rollback  string
	DependsOn []string
	// DependsOnPos says where each entry of DependsOn was written.
	DependsOnPos []Pos
	// Schema lists the config keys the service declares, in declaration order.
	Schema []*Key
	// Overrides maps an environment name to values that apply to this service there (and in
	// environments that extend it). OverridePos says where each environment's block starts.
	Overrides   map[string]map[string]Value
	OverridePos map[string]Pos
	// Bundle lists the paths or globs (relative to the project directory) of the files a
	// release copies for its steps; empty means the default: each step command's first
	// word that is a relative path, with the directory it is in. BundlePos says where each
	// entry was written.
	Bundle    []string
	BundlePos []Pos
	// Runbooks are the service's operational tasks (services.NAME.runbooks), by name.
	Runbooks map[string]*Runbook
}

// Runbook is an operational task of a service (restart, reindex, rotate a key) that `strata
// run` runs in one environment, with that environment's config and secrets, through the
// environment's freeze and the approvals its policy asks, audited like a deployment.
type Runbook struct {
	Name string
	// Step is the command and its timeout (0 means 30 minutes).
	Step
	// Approvals is how many principals other than the requester must approve a run.
	Approvals int
}

// RunbookNames lists the service's runbooks by name.
func (s *Service) RunbookNames() []string {
	return slices.Sorted(maps.Keys(s.Runbooks))
}

// Key returns the schema entry for name, or nil.
func (s *Service) Key(name string) *Key {
	for _, k := range s.Schema {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// Step is a shell command run as `/bin/sh -c` in the project directory, or, for observe and
// health, an HTTP URL to fetch.
type Step struct {
	Run     string
	HTTP    string
	Timeout time.Duration // 0 means the default for the step kind
	Pos     Pos
}

// Health says how to tell that a deployment works: an HTTP URL answering 2xx or a command
// exiting 0, retried with backoff until Timeout.
type Health struct {
	HTTP string
	// Contains, when set, is text (interpolated, e.g. "v${release.version}") the answer's
	// body must contain: whatever else holds the port (another environment's server, after
	// this one failed to bind) answers too, and only the body tells the deployed process
	// apart. ContainsPos says where it was written.
	Contains    string
	ContainsPos Pos
	// Status is the HTTP status the check wants; 0 means any 2xx, or 200 with Contains.
	Status   int
	Command  string
	Timeout  time.Duration
	Interval time.Duration
	Pos      Pos
}

// Key is one entry of a service's config schema.
type Key struct {
	Name        string
	Type        string // "string", "integer", "number" or "boolean"
	Default     *Value
	Enum        []any
	Secret      bool
	From        string // "env:NAME" or "file:PATH": an outside source for a secret
	Description string
	Pos         Pos
}

// Key types.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
)

// Stage is one step of the pipeline: which environments, in which waves, behind which gates.
type Stage struct {
	Name string
	Pos  Pos
	// Names lists environments by name; Selector selects them by labels (all must match).
	// Exactly one of them is set.
	Names    []string
	Selector map[string]string
	Auto     bool
	// Waves deploys that many environments at a time (0: all at once); WaveLists names the
	// waves outright and wins when set.
	Waves     int
	WaveLists [][]string
	// Environments is the stage's membership, resolved, in declaration order.
	Environments []string
}

// Environment returns the environment named name, or nil.
//
// After Index it is a map lookup: an estate of thousands of environments looks one up for
// each deployment, and a scan made a stage of them cost O(n²).
func (p *Project) Environment(name string) *Environment {
	if x := p.index; x != nil {
		// The position is checked: Environments may have changed since (a short-lived
		// environment made or destroyed), and a copy of p shares its index.
		if i, ok := x.find(name); ok && i < len(p.Environments) && p.Environments[i].Name == name {
			return p.Environments[i]
		}
	}
	for _, e := range p.Environments {
		if e.Name == name {
			if p.index != nil {
				p.index.build(p.Environments)
			}
			return e
		}
	}
	return nil
}

// Index makes Environment a map lookup. The config package calls it on the projects it
// builds; a Project made otherwise works the same, by scanning.
func (p *Project) Index() {
	p.index = &nameIndex{}
	p.index.build(p.Environments)
}

// nameIndex holds the position of each environment in a Project's list.
type nameIndex struct {
	mu  sync.RWMutex
	pos map[string]int
}

func (x *nameIndex) find(name string) (int, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	i, ok := x.pos[name]
	return i, ok
}

func (x *nameIndex) build(envs []*Environment) {
	pos := make(map[string]int, len(envs))
	for i, e := range envs {
		pos[e.Name] = i
	}
	x.mu.Lock()
	x.pos = pos
	x.mu.Unlock()
}

// Service returns the service named name, or nil.
func (p *Project) Service(name string) *Service {
	for _, s := range p.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Stage returns the stage named name, or nil.
//
// "env:NAME" (EnvStagePrefix) names the one-environment stage of an environment NAME that no
// stage of the pipeline selects; it is not in the pipeline (StageIndex is -1).
func (p *Project) Stage(name string) *Stage {
	for _, s := range p.Pipeline {
		if s.Name == name {
			return s
		}
	}
	if env, ok := strings.CutPrefix(name, EnvStagePrefix); ok && p.Environment(env) != nil && p.StageOf(env) == nil {
		return &Stage{Name: name, Names: []string{env}, Environments: []string{env}}
	}
	return nil
}

// EnvStagePrefix begins the name of an environment's own stage ("env:NAME", Stage): a
// promotion into an environment that no stage selects, such as the one a `deploy` there
// opens when its policy needs approvals, which only a promotion collects. No declared name
// holds a colon, so it names no stage of the pipeline.
const EnvStagePrefix = "env:"

// StageOf returns the first stage of the pipeline that selects environment env, or nil.
func (p *Project) StageOf(env string) *Stage {
	for _, s := range p.Pipeline {
		if slices.Contains(s.Environments, env) {
			return s
		}
	}
	return nil
}

// StageIndex returns the position of the named stage in the pipeline, or -1.
func (p *Project) StageIndex(name string) int {
	return slices.IndexFunc(p.Pipeline, func(s *Stage) bool { return s.Name == name })
}

// EnvironmentNames returns every environment's name in declaration order.
func (p *Project) EnvironmentNames() []string {
	out := make([]string, len(p.Environments))
	for i, e := range p.Environments {
		out[i] = e.Name
	}
	return out
}

// ServiceNames returns every service's name in declaration order.
func (p *Project) ServiceNames() []string {
	out := make([]string, len(p.Services))
	for i, s := range p.Services {
		out[i] = s.Name
	}
	return out
}

// StagesOf returns the stages whose membership includes env, in pipeline order.
func (p *Project) StagesOf(env string) []*Stage {
	var out []*Stage
	for _, s := range p.Pipeline {
		if slices.Contains(s.Environments, env) {
			out = append(out, s)
		}
	}
	return out
}

// Matches reports whether labels (plus the pseudo-label "name") satisfy every key of selector.
func Matches(selector map[string]string, name string, labels map[string]string) bool {
	for k, v := range selector {
		got, ok := labels[k]
		if k == "name" {
			got, ok = name, true
		}
		if !ok || got != v {
			return false
		}
	}
	return true
}

// DependencyOrder returns the named services (all when names is empty) with every service
// after the services it depends on, keeping declaration order otherwise. Dependencies outside
// names are not added. The project is assumed valid (no cycles).
func (p *Project) DependencyOrder(names []string) []*Service {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []*Service
	seen := map[string]bool{}
	var visit func(s *Service)
	visit = func(s *Service) {
		if s == nil || seen[s.Name] {
			return
		}
		seen[s.Name] = true
		for _, d := range s.DependsOn {
			visit(p.Service(d))
		}
		if len(names) == 0 || want[s.Name] {
			out = append(out, s)
		}
	}
	for _, s := range p.Services {
		visit(s)
	}
	return out
}
