package report

import (
	"context"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
)

// Promotion is the document of `promote`, `approve`, `reject` and `plan`: a promotion with
// its gates, waves and deployments, and Next, the promotion into the following auto stage it
// chained into. Fields are in key order, as the CLI has always printed them.
type Promotion struct {
	Approvals   []strata.Approval `json:"approvals"`
	Deployments []Deployment      `json:"deployments"`
	// Environments is what the promotion would do to each environment (`plan` only).
	Environments []EnvPlan   `json:"environments,omitempty"`
	Error        string      `json:"error,omitempty"`
	Gates        []plan.Gate `json:"gates"`
	ID           string      `json:"id"`
	Next         *Promotion  `json:"next,omitempty"`
	// Only is the environments of the stage the promotion is narrowed to (`--only`, or the
	// one a `deploy` that needs approvals opened it for); absent for the whole stage.
	Only []string `json:"only,omitempty"`
	// Members is every release of a release train, the first being Service@Version;
	// absent for a promotion of one release.
	Members   []strata.Member `json:"members,omitempty"`
	Override  *Override       `json:"override,omitempty"`
	Requester string          `json:"requester"`
	Service   string          `json:"service"`
	Stage     string          `json:"stage"`
	State     string          `json:"state"`
	Version   string          `json:"version"`
	Waves     [][]string      `json:"waves"`
}

// Override says an admin opened a closed deploy window, and why.
type Override struct {
	Window bool   `json:"window"`
	Reason string `json:"reason"`
}

// EnvPlan is what a promotion would do to one environment.
type EnvPlan struct {
	// Service and Version name the member of a release train this entry is about (a train
	// has an entry per member and environment, in the order they would deploy); absent for
	// a promotion of one release.
	Service string   `json:"service,omitempty"`
	Version string   `json:"version,omitempty"`
	Name    string   `json:"name"`
	Wave    int      `json:"wave"`
	Current string   `json:"current_version"`
	Changes []Change `json:"config_changes"`
	// ConfigError says why the environment's config cannot be resolved (it would not deploy).
	ConfigError string `json:"config_error,omitempty"`
}

// Change is one config key a promotion would change.
type Change struct {
	Key  string `json:"key"`
	From any    `json:"from"`
	To   any    `json:"to"`
}

// NewPromotion returns the document of a promotion result and the ones it chained into.
func NewPromotion(r *engine.PromotionResult) *Promotion {
	p := r.Promotion
	gates := r.Gates
	if gates == nil {
		gates = []plan.Gate{}
	}
	doc := &Promotion{
		ID: p.ID, Service: p.Service, Version: p.Version, Stage: p.Stage, State: p.State,
		Requester: p.Requester, Approvals: p.Approvals, Gates: gates, Waves: r.Waves,
		Deployments: NewDeployments(r.Deployments), Error: p.Error, Only: p.Only,
		Members: p.Members,
	}
	if p.Override {
		doc.Override = &Override{Window: true, Reason: p.Reason}
	}
	if r.Next != nil {
		doc.Next = NewPromotion(r.Next)
	}
	return doc
}

// Plan returns what promoting req would do, changing nothing: the promotion as it would
// start, with each environment's current version and config changes.
func Plan(ctx context.Context, e *engine.Engine, req engine.PromoteRequest) (*Promotion, error) {
	res, err := e.Plan(ctx, req)
	if err != nil {
		return nil, err
	}
	cur, err := e.Current(ctx)
	if err != nil {
		return nil, err
	}
	train := res.Promotion.Members
	ms := []strata.Member{{Service: res.Promotion.Service, Version: res.Promotion.Version}}
	if len(train) > 0 {
		ms = plan.TrainOrder(e.Project, train)
	}
	var envs []EnvPlan
	for i, wave := range res.Waves {
		for _, m := range ms {
			for _, env := range wave {
				ep := EnvPlan{Name: env, Wave: i + 1, Changes: []Change{}}
				if len(train) > 0 {
					ep.Service, ep.Version = m.Service, m.Version
				}
				var had map[string]any
				if d := cur[plan.Pair{Service: m.Service, Environment: env}]; d != nil {
					ep.Current, had = d.Version, d.Config
				}
				next, err := planConfig(e.Project, cur, m.Service, env, m.Version)
				if err != nil {
					ep.ConfigError = err.Error()
				} else {
					ep.Changes = configChanges(had, next)
				}
				envs = append(envs, ep)
			}
		}
	}
	doc := NewPromotion(res)
	doc.Environments = envs
	return doc, nil
}

// planConfig is the config a deployment of service at version into env would get now:
// with the outputs its dependencies last wrote there. Where a dependency has not written
// them yet, the references stay as written (what `strata config` shows). Secrets are "***".
func planConfig(p *strata.Project, cur map[plan.Pair]*strata.Deployment, service, env, version string) (map[string]any, error) {
	var rt *layer.Runtime
	if svc := p.Service(service); svc != nil {
		rt = layer.DeployRuntime(svc, version, func(dep string) *strata.Deployment { return cur[plan.Pair{Service: dep, Environment: env}] })
	}
	rs, err := layer.Resolve(p, service, env, rt)
	if err != nil {
		if rs, err = layer.Resolve(p, service, env, nil); err != nil {
			return nil, err
		}
	}
	return rs.Redacted(), nil
}

// configChanges lists keys whose value would change from had to next (JSON numbers in had
// are compared by value).
func configChanges(had, next map[string]any) []Change {
	out := []Change{}
	keys := map[string]bool{}
	for k := range had {
		keys[k] = true
	}
	for k := range next {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		x, y := normalize(had[k]), normalize(next[k])
		if !reflect.DeepEqual(x, y) {
			out = append(out, Change{k, had[k], next[k]})
		}
	}
	return out
}

func normalize(v any) any {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case int:
		return float64(v)
	}
	return v
}

// WriteText prints the promotion and every promotion it chained into; for a plan, each
// environment's version and config changes follow.
func (p *Promotion) WriteText(w io.Writer) {
	for r := p; r != nil; r = r.Next {
		id := r.ID
		if id == "" {
			id = "(plan)"
		}
		fmt.Fprintf(w, "promotion %s: %s to %s%s: %s\n", id, releasesText(r), r.Stage, onlyText(r.Only), r.State)
		for _, g := range r.Gates {
			mark := "✓"
			if !g.OK {
				mark = "✗"
			}
			fmt.Fprintf(w, "  %s %-14s %s\n", mark, g.Name, g.Detail)
		}
		fmt.Fprintf(w, "  waves: %s\n", waves(r.Waves))
		for _, d := range r.Deployments {
			fmt.Fprintf(w, "  %s %s: %s\n", d.ID, d.Environment, d.State)
		}
	}
	for _, ep := range p.Environments {
		if ep.Service != "" {
			fmt.Fprintf(w, "  %s %s (wave %d): %s -> %s\n", ep.Service, ep.Name, ep.Wave, Dash(ep.Current), ep.Version)
		} else {
			fmt.Fprintf(w, "  %s (wave %d): %s -> %s\n", ep.Name, ep.Wave, Dash(ep.Current), p.Version)
		}
		if ep.ConfigError != "" {
			fmt.Fprintf(w, "      config: %s\n", ep.ConfigError)
		}
		for _, ch := range ep.Changes {
			fmt.Fprintf(w, "      %s: %s -> %s\n", ch.Key, Dash(FormatValue(ch.From)), Dash(FormatValue(ch.To)))
		}
	}
}

// Release is the document of `release`: the release, and the deployments and promotions
// that landed it in the auto stages.
type Release struct {
	// Bundle is the one digest over the release's artifacts and recipe (step files).
	Bundle      string       `json:"bundle,omitempty"`
	Commit      string       `json:"commit"`
	CreatedAt   time.Time    `json:"created_at"`
	CreatedBy   string       `json:"created_by"`
	Deployments []Deployment `json:"deployments"`
	Digest      string       `json:"digest"`
	ID          string       `json:"id"`
	Promotions  []*Promotion `json:"promotions"`
	// Recipe is the digest of the step files the release copied ("" when it uses none).
	Recipe  string `json:"recipe,omitempty"`
	Reused  bool   `json:"reused"`
	Service string `json:"service"`
	Version string `json:"version"`
	// Recalled says who recalled the release, when and why; absent when it is not.
	Recalled *strata.Recall `json:"recalled,omitempty"`
}

// NewRelease returns the document of a release result.
func NewRelease(res *engine.ReleaseResult) *Release {
	r := res.Release
	doc := &Release{
		ID: r.ID, Service: r.Service, Version: r.Version, Digest: r.Digest, Commit: r.Commit, Bundle: r.Bundle, Recipe: r.Recipe,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, Reused: res.Reused, Recalled: r.Recalled,
		Deployments: NewDeployments(res.Deployments),
	}
	for _, p := range res.Promotions {
		doc.Promotions = append(doc.Promotions, NewPromotion(p))
	}
	return doc
}

// WriteText prints the release and where the auto stages took it.
func (r *Release) WriteText(w io.Writer) {
	fmt.Fprintf(w, "release %s: %s@%s %s\n", r.ID, r.Service, r.Version, r.Digest)
	if c := r.Recalled; c != nil {
		fmt.Fprintf(w, "  recalled by %s at %s: %s\n", c.By, c.At.UTC().Format(time.RFC3339), c.Reason)
	}
	for _, p := range r.Promotions {
		fmt.Fprintf(w, "  %s: %s (%s)\n", p.Stage, p.State, p.ID)
	}
}

// Resume is the document of `resume`.
type Resume struct {
	Destroyed  []engine.DestroyedEnv `json:"destroyed"`
	Promotions []*Promotion          `json:"promotions"`
	Resumed    []Deployment          `json:"resumed"`
	// Switches are the group switches resume ran (again).
	Switches []*strata.Switch `json:"switches,omitempty"`
}

// NewResume returns the document of a resume result.
func NewResume(res *engine.ResumeResult) *Resume {
	doc := &Resume{Resumed: NewDeployments(res.Resumed), Destroyed: res.Destroyed, Switches: res.Switches}
	if doc.Destroyed == nil {
		doc.Destroyed = []engine.DestroyedEnv{}
	}
	for _, p := range res.Promotions {
		doc.Promotions = append(doc.Promotions, NewPromotion(p))
	}
	return doc
}

// WriteText prints what resume did, or that there was nothing to do.
func (r *Resume) WriteText(w io.Writer) {
	if len(r.Resumed) == 0 && len(r.Promotions) == 0 && len(r.Destroyed) == 0 && len(r.Switches) == 0 {
		fmt.Fprintln(w, "nothing to resume")
	}
	for _, s := range r.Switches {
		fmt.Fprintf(w, "%s %s: %s %s -> %s %s\n", s.Kind, s.ID, s.Group, s.From, s.To, s.State)
	}
	for _, d := range r.Resumed {
		fmt.Fprintf(w, "resumed %s: %s@%s in %s %s (attempt %d)\n", d.ID, d.Service, d.Version, d.Environment, d.State, d.Attempt)
	}
	for _, p := range r.Promotions {
		fmt.Fprintf(w, "promotion %s: %s@%s to %s %s\n", p.ID, p.Service, p.Version, p.Stage, p.State)
	}
	for _, d := range r.Destroyed {
		services := ""
		for i, s := range d.Services {
			if i > 0 {
				services += ", "
			}
			services += s
		}
		fmt.Fprintf(w, "destroyed expired environment %s (%s)\n", d.Name, Dash(services))
	}
}

// onlyText says which environments of its stage a promotion is narrowed to ("" for all).
func onlyText(only []string) string {
	if len(only) == 0 {
		return ""
	}
	return " (only " + strings.Join(only, ", ") + ")"
}

// releasesText names the releases a promotion moves: "web@1.1.0 + schema@8" for a train.
func releasesText(p *Promotion) string {
	if len(p.Members) == 0 {
		return p.Service + "@" + p.Version
	}
	var s []string
	for _, m := range p.Members {
		s = append(s, m.Service+"@"+m.Version)
	}
	return strings.Join(s, " + ")
}
