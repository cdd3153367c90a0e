package report

import (
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
)

// Validation is the document of `validate`: a summary of a project that passed every check.
type Validation struct {
	OK           bool     `json:"ok"`
	Project      string   `json:"project"`
	Environments []string `json:"environments"`
	Services     []string `json:"services"`
	Stages       []Stage  `json:"stages"`
	Warnings     []string `json:"warnings"`
	// File is the project file that was checked.
	File string `json:"file"`
	// DependsOn names, for each service that has any, the services it deploys after.
	DependsOn map[string][]string `json:"depends_on,omitempty"`
	// Scope, from a server, is the selectors of a token that covers only some environments:
	// the environments and stages are those it covers. Empty means the whole project.
	Scope []string `json:"scope,omitempty"`
}

// Stage is one stage of the pipeline in a Validation.
type Stage struct {
	Name         string     `json:"name"`
	Environments []string   `json:"environments"`
	Waves        [][]string `json:"waves"`
	Auto         bool       `json:"auto"`
}

// NewValidation returns the summary of p, a project that passed every check, with the
// warnings the checks found.
func NewValidation(p *strata.Project, warnings strata.Problems) *Validation {
	doc := &Validation{OK: true, Project: p.Name, File: p.File, Environments: p.EnvironmentNames(), Services: p.ServiceNames(), Stages: []Stage{}, Warnings: []string{}}
	for _, s := range p.Pipeline {
		doc.Stages = append(doc.Stages, Stage{s.Name, s.Environments, plan.Waves(s), s.Auto})
	}
	for _, w := range warnings.Warnings() {
		doc.Warnings = append(doc.Warnings, w.Error())
	}
	for _, s := range p.Services {
		if len(s.DependsOn) > 0 {
			if doc.DependsOn == nil {
				doc.DependsOn = map[string][]string{}
			}
			doc.DependsOn[s.Name] = s.DependsOn
		}
	}
	return doc
}

// count says "1 service" or "3 services".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// WriteText prints the summary (the warnings are the caller's to print, on stderr).
func (v *Validation) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s: ok: project %s, %s, %s, %s\n", v.File, v.Project, count(len(v.Environments), "environment"),
		count(len(v.Services), "service"), count(len(v.Stages), "stage"))
	if len(v.Scope) > 0 {
		fmt.Fprintf(w, "scope: %s (only the environments this token covers are shown)\n", strings.Join(v.Scope, " or "))
	}
	fmt.Fprintf(w, "environments: %s\n", strings.Join(v.Environments, ", "))
	var svcs []string
	for _, s := range v.Services {
		if deps := v.DependsOn[s]; len(deps) > 0 {
			svcs = append(svcs, fmt.Sprintf("%s (after %s)", s, strings.Join(deps, ", ")))
		} else {
			svcs = append(svcs, s)
		}
	}
	fmt.Fprintf(w, "services: %s\n", strings.Join(svcs, ", "))
	fmt.Fprintln(w, "pipeline:")
	for _, s := range v.Stages {
		auto := ""
		if s.Auto {
			auto = " (auto)"
		}
		fmt.Fprintf(w, "  %s%s: %s\n", s.Name, auto, waves(s.Waves))
	}
}

// Environment is one entry of `env list`: labels and policy as resolved through extends.
type Environment struct {
	Name    string            `json:"name"`
	Labels  map[string]string `json:"labels"`
	Extends string            `json:"extends"`
	Policy  strata.Policy     `json:"policy"`
	Stages  []string          `json:"stages"`
	// RunsOn is the pool of agents that runs its steps (resolved through extends).
	RunsOn  string     `json:"runs_on,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	// Ephemeral marks environments made by `strata env create`.
	Ephemeral bool `json:"ephemeral"`
}

// NewEnvironments returns the `env list` document of p (short-lived environments included
// when they were added to p).
func NewEnvironments(p *strata.Project) []Environment {
	docs := []Environment{}
	for _, e := range p.Environments {
		d := Environment{Name: e.Name, Labels: e.Labels, Extends: e.Extends, Policy: e.Policy, Stages: []string{}, Ephemeral: e.Ephemeral, RunsOn: e.RunsOn}
		if d.Labels == nil {
			d.Labels = map[string]string{}
		}
		for _, s := range p.StagesOf(e.Name) {
			d.Stages = append(d.Stages, s.Name)
		}
		if !e.Expires.IsZero() {
			t := e.Expires
			d.Expires = &t
		}
		docs = append(docs, d)
	}
	return docs
}

// WriteEnvironments prints the `env list` table.
func WriteEnvironments(w io.Writer, docs []Environment, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	runsOn := slices.ContainsFunc(docs, func(d Environment) bool { return d.RunsOn != "" })
	if runsOn {
		fmt.Fprintln(tw, "NAME\tEXTENDS\tLABELS\tPOLICY\tSTAGES\tEXPIRES\tRUNS ON")
	} else {
		fmt.Fprintln(tw, "NAME\tEXTENDS\tLABELS\tPOLICY\tSTAGES\tEXPIRES")
	}
	for _, d := range docs {
		exp := "-"
		if d.Ephemeral {
			exp = "never"
			if d.Expires != nil {
				exp = ShortExpiry(now, *d.Expires)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s", d.Name, Dash(d.Extends), Dash(FormatLabels(d.Labels)), Dash(FormatPolicy(d.Policy)), Dash(strings.Join(d.Stages, ",")), exp)
		if runsOn {
			fmt.Fprintf(tw, "\t%s", Dash(d.RunsOn))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// Config is the document of `config`: the resolved values (secrets as "***") and where each
// comes from; with explain, every layer that set each key.
type Config struct {
	Environment string                 `json:"environment"`
	Service     string                 `json:"service"`
	Sources     map[string]string      `json:"sources"`
	Trail       map[string][]TrailStep `json:"trail,omitempty"`
	Values      map[string]any         `json:"values"`
}

// TrailStep is one layer that set a key, lowest precedence first.
type TrailStep struct {
	Layer  string `json:"layer"`
	Source string `json:"source"`
	Value  any    `json:"value"`
}

// place is where s's value was written, for text that has just named its layer: a
// short-lived environment's layer ("env create pr-7 --set") is not followed by "--set"
// again ("--set by alice at ..." reads "by alice at ..."). The JSON keeps both as they are.
func (s TrailStep) place() string {
	if strings.HasSuffix(s.Layer, " --set") {
		return strings.TrimPrefix(s.Source, "--set ")
	}
	return s.Source
}

// NewConfig resolves service's config in env. Unknown names are ENOTFOUND; a missing env
// is EINVALID.
func NewConfig(p *strata.Project, service, env string, explain bool) (*Config, error) {
	if err := NeedEnv(p, env); err != nil {
		return nil, err
	}
	if err := NeedService(p, service); err != nil {
		return nil, err
	}
	r, err := layer.Resolve(p, service, env, nil)
	if err != nil {
		return nil, err
	}
	doc := &Config{Service: r.Service, Environment: r.Environment, Values: r.Redacted(), Sources: map[string]string{}}
	for _, k := range r.Keys {
		doc.Sources[k] = r.Source(k)
	}
	if explain {
		doc.Trail = map[string][]TrailStep{}
		for _, k := range r.Keys {
			for _, l := range r.Trail[k] {
				v := l.Value.V
				if r.Secret[k] {
					v = "***"
				}
				doc.Trail[k] = append(doc.Trail[k], TrailStep{Layer: l.Name, Value: v, Source: l.Value.Pos.String()})
			}
		}
	}
	return doc, nil
}

// WriteText prints KEY=value lines in key order; with the trail (explain), where each
// value comes from and what it overrides.
func (c *Config) WriteText(w io.Writer) {
	for _, k := range slices.Sorted(maps.Keys(c.Values)) {
		fmt.Fprintf(w, "%s=%s\n", k, FormatValue(c.Values[k]))
		if c.Trail == nil {
			continue
		}
		trail := c.Trail[k]
		// The layer that won, named as the ones it overrides are: "from overrides.prod-eu (file:line:col)".
		if n := len(trail); n > 0 && trail[n-1].Source != "" && trail[n-1].Source == c.Sources[k] {
			fmt.Fprintf(w, "    from %s (%s)\n", trail[n-1].Layer, trail[n-1].place())
		} else {
			fmt.Fprintf(w, "    from %s\n", c.Sources[k])
		}
		for i := len(trail) - 2; i >= 0; i-- {
			fmt.Fprintf(w, "    overrides %s from %s (%s)\n", FormatValue(trail[i].Value), trail[i].Layer, Dash(trail[i].place()))
		}
	}
}

// Diff is the document of `diff`: the versions and config keys that differ between two
// environments.
type Diff struct {
	A           string       `json:"a"`
	B           string       `json:"b"`
	Differences []Difference `json:"differences"`
}

// Difference is one version or config key that differs.
type Difference struct {
	Service string `json:"service"`
	Kind    string `json:"kind"`
	Key     string `json:"key"`
	A       any    `json:"a"`
	B       any    `json:"b"`
}

// NewDiff compares environments a and b of p; current returns what runs in each (service,
// environment) and is called only once both names are known.
func NewDiff(p *strata.Project, a, b string, current func() (map[plan.Pair]*strata.Deployment, error)) (*Diff, error) {
	for _, e := range []string{a, b} {
		if p.Environment(e) == nil {
			return nil, Unknown("environment", e, p.EnvironmentNames())
		}
	}
	cur, err := current()
	if err != nil {
		return nil, err
	}
	doc := &Diff{A: a, B: b, Differences: []Difference{}}
	for _, s := range p.Services {
		va, vb := versionIn(cur, s.Name, a), versionIn(cur, s.Name, b)
		if va != vb {
			doc.Differences = append(doc.Differences, Difference{s.Name, "version", "version", nilIfEmpty(va), nilIfEmpty(vb)})
		}
		ra, err := layer.Resolve(p, s.Name, a, nil)
		if err != nil {
			return nil, err
		}
		rb, err := layer.Resolve(p, s.Name, b, nil)
		if err != nil {
			return nil, err
		}
		doc.Differences = append(doc.Differences, configDiff(s.Name, ra, rb)...)
	}
	return doc, nil
}

// WriteText prints the differences as a table, or that there are none.
func (d *Diff) WriteText(w io.Writer) {
	if len(d.Differences) == 0 {
		fmt.Fprintf(w, "%s and %s are the same: versions and config\n", d.A, d.B)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SERVICE\tKIND\tKEY\t%s\t%s\n", d.A, d.B)
	for _, x := range d.Differences {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.Service, x.Kind, x.Key, Dash(FormatValue(x.A)), Dash(FormatValue(x.B)))
	}
	tw.Flush()
}

// configDiff lists the keys whose values differ between two resolutions of one service.
// Secret values are never compared here: their values are not known at config time.
func configDiff(service string, ra, rb *layer.Resolved) []Difference {
	var out []Difference
	va, vb := ra.Redacted(), rb.Redacted()
	keys := map[string]bool{}
	for k := range va {
		keys[k] = true
	}
	for k := range vb {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		x, okA := va[k]
		y, okB := vb[k]
		if okA && okB && reflect.DeepEqual(x, y) {
			continue
		}
		out = append(out, Difference{service, "config", k, x, y})
	}
	return out
}

func versionIn(cur map[plan.Pair]*strata.Deployment, service, env string) string {
	if d := cur[plan.Pair{Service: service, Environment: env}]; d != nil {
		return d.Version
	}
	return ""
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
