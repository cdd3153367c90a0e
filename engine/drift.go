package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/step"
)

// Drift kinds.
const (
	DriftConfig  = "config"  // the files now resolve to another config than was deployed
	DriftVersion = "version" // observe reports another version than was deployed
	DriftHealth  = "health"  // its health check, run again after the deployment, fails
)

// DriftItem is one way a (service, environment) differs from what was last deployed there.
type DriftItem struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Kind        string `json:"kind"`
	Detail      string `json:"detail"`
	// Keys names the config keys that differ (config drift only).
	Keys []string `json:"keys,omitempty"`
	// Deployment is the deployment the pair is compared with.
	Deployment string `json:"deployment"`
	// Flag names the feature flag changed at run time (kind flag, which has no service).
	Flag string `json:"flag,omitempty"`
}

// observeTimeout bounds an observe step that names no timeout.
const observeTimeout = 10 * time.Second

// Drift compares every (service, environment) that has a current deployment (its newest
// succeeded one) with what is true now, in env only when env is not "": config drift when
// the configuration the files resolve to differs from the one the deployment used, version
// drift when the service's observe step reports a version other than the deployment's. An
// observe that fails is version drift too ("could not observe: ..."). Secret values are not
// read: keys that are secret now or were secret then are not compared. Health drift is a
// deployment whose check, as `serve` last ran it after the deployment, fails (the store's
// HealthChecks; drift does not run checks itself). Failover drift is the side a group failed
// over from while a service there fails its health check, which drift does run (failover.go).
//
// Items come in project order (environments, then services). An unknown env is ENOTFOUND.
func (e *Engine) Drift(ctx context.Context, env string) ([]DriftItem, error) {
	if env != "" && e.Project.Environment(env) == nil {
		return nil, notFound("environment", env, e.Project.EnvironmentNames())
	}
	f, err := e.currentFacts(ctx, env)
	if err != nil {
		return nil, err
	}
	type job struct {
		svc *strata.Service
		d   *strata.Deployment
	}
	var jobs []job
	for _, en := range e.Project.Environments {
		if env != "" && en.Name != env {
			continue
		}
		for _, svc := range e.Project.Services {
			if d := f.Current[plan.Pair{Service: svc.Name, Environment: en.Name}]; d != nil {
				jobs = append(jobs, job{svc, d})
			}
		}
	}
	checks, err := e.Store.HealthChecks(ctx)
	if err != nil {
		return nil, fmt.Errorf("drift: read health checks: %w", err)
	}
	unhealthy := map[string]*strata.HealthCheck{}
	for _, c := range checks {
		if c.Health == strata.Unhealthy {
			unhealthy[c.Deployment] = c
		}
	}
	scratch, err := os.MkdirTemp("", "strata-observe-")
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	defer os.RemoveAll(scratch)

	results := make([][]DriftItem, len(jobs))
	sem := make(chan struct{}, max(1, e.Parallel))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = e.driftOf(ctx, j.svc, j.d, f, filepath.Join(scratch, fmt.Sprint(i)))
			if c := unhealthy[j.d.ID]; c != nil && c.Environment == j.d.Environment && c.Service == j.d.Service {
				results[i] = append(results[i], DriftItem{Service: j.svc.Name, Environment: j.d.Environment, Kind: DriftHealth,
					Detail: fmt.Sprintf("unhealthy since %s: %s", c.Since.UTC().Format(time.RFC3339), c.Detail), Deployment: j.d.ID})
			}
		}()
	}
	wg.Wait()
	out := []DriftItem{}
	for _, r := range results {
		out = append(out, r...)
	}
	failover, err := e.failoverDrift(ctx, env)
	if err != nil {
		return nil, err
	}
	out = append(out, failover...)
	return out, ctx.Err()
}

// driftOf compares one current deployment with now.
func (e *Engine) driftOf(ctx context.Context, svc *strata.Service, d *strata.Deployment, f plan.Facts, scratch string) []DriftItem {
	item := func(kind, detail string) DriftItem {
		return DriftItem{Service: svc.Name, Environment: d.Environment, Kind: kind, Detail: detail, Deployment: d.ID}
	}
	var out []DriftItem
	rs, err := e.resolveNow(svc, d, f)
	if err != nil {
		out = append(out, item(DriftConfig, "cannot resolve the config now: "+err.Error()))
	} else if keys, detail := configDiff(d.Config, rs); len(keys) > 0 {
		it := item(DriftConfig, detail)
		it.Keys = keys
		out = append(out, it)
	}
	if svc.Observe == nil {
		return out
	}
	observe := e.observe
	if env := e.Project.Environment(d.Environment); env != nil && env.RunsOn != "" {
		observe = e.observeOnAgent
	}
	got, err := observe(ctx, svc, d, rs, scratch)
	switch {
	case err != nil:
		out = append(out, item(DriftVersion, "could not observe: "+err.Error()))
	case got != d.Version:
		out = append(out, item(DriftVersion, fmt.Sprintf("observed %s, but %s was deployed (%s)", show(got), d.Version, d.ID)))
	}
	return out
}

// resolveNow resolves svc's config in d's environment as a deployment of d's version would
// now, with dependencies' current outputs and without secret values.
func (e *Engine) resolveNow(svc *strata.Service, d *strata.Deployment, f plan.Facts) (*layer.Resolved, error) {
	return layer.Resolve(e.Project, svc.Name, d.Environment, runtimeIn(svc, d.Environment, d.Version, f))
}

// configDiff names the keys whose value now differs from the deployed one, sorted, and
// says "KEY: old -> new" for each. Secret keys (now or then) are left out: their values are
// not read.
func configDiff(was map[string]any, rs *layer.Resolved) ([]string, string) {
	now := rs.Redacted()
	all := map[string]bool{}
	for k := range was {
		all[k] = true
	}
	for k := range now {
		all[k] = true
	}
	var keys, parts []string
	for _, k := range slices.Sorted(maps.Keys(all)) {
		old, hadOld := was[k]
		cur, hasCur := now[k]
		if rs.Secret[k] || old == layer.Redaction {
			continue
		}
		if hadOld && hasCur && sameValue(old, cur) {
			continue
		}
		keys = append(keys, k)
		parts = append(parts, fmt.Sprintf("%s: %s -> %s", k, showValue(old, hadOld), showValue(cur, hasCur)))
	}
	return keys, strings.Join(parts, "; ")
}

// sameValue compares config values as JSON sees them: 8080 stored and read back equals
// the integer 8080 and the number 8080.0.
func sameValue(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return a == b
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// showValue prints a config value as JSON would, or "(unset)".
func showValue(v any, ok bool) string {
	if !ok {
		return "(unset)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// show quotes an observed version when it is empty or has spaces, so the detail reads well.
func show(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// observe runs svc's observe step for d and returns the version it reports.
func (e *Engine) observe(ctx context.Context, svc *strata.Service, d *strata.Deployment, rs *layer.Resolved, scratch string) (string, error) {
	ob := svc.Observe
	timeout := ob.Timeout
	if timeout <= 0 {
		timeout = observeTimeout
	}
	if rs == nil {
		return "", fmt.Errorf("the config does not resolve")
	}
	rs = withoutSecrets(rs)
	if ob.HTTP != "" {
		target, err := layer.Expand(e.Project, rs, ob.HTTP, ob.Pos)
		if err != nil {
			return "", err
		}
		return observeHTTP(ctx, target, timeout)
	}
	// The command gets its values through variables, so that the shell never parses one.
	target, err := layer.ExpandCommand(e.Project, rs, ob.Run, ob.Pos)
	if err != nil {
		return "", err
	}
	rel, err := e.Store.Release(ctx, d.Service, d.Version)
	if err != nil {
		return "", fmt.Errorf("release %s@%s: %w", d.Service, d.Version, err)
	}
	if err := e.ensureBundle(ctx, rel); err != nil {
		return "", err
	}
	return e.observeCommand(ctx, d, rel, rs, target.Text, target.Env, timeout, scratch)
}

// observeCommand runs an observe command (text, its values in vars) for d of release rel,
// with rs (no secrets) as its config file, and returns what it printed, trimmed.
func (e *Engine) observeCommand(ctx context.Context, d *strata.Deployment, rel *strata.Release, rs *layer.Resolved, text string, vars []string, timeout time.Duration, scratch string) (string, error) {
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return "", err
	}
	cfg, err := rs.JSON()
	if err != nil {
		return "", err
	}
	cfgPath, errPath := filepath.Join(scratch, "config.json"), filepath.Join(scratch, "stderr")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return "", err
	}
	env := append(e.stepEnv(d, rel, rs, cfgPath, os.DevNull), vars...)
	// stdout is the version; stderr goes to a file, for the error.
	cmd := "{ " + text + "\n} 2>" + shellQuote(errPath)
	var stdout bytes.Buffer
	res, err := e.runStep(ctx, step.Spec{Name: "observe", Command: cmd, Dir: e.Project.Dir, Env: env, Timeout: timeout, Output: &stdout, Grace: time.Second})
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		msg := fmt.Sprintf("observe step exited with status %d", res.ExitCode)
		if b, _ := os.ReadFile(errPath); len(bytes.TrimSpace(b)) > 0 {
			msg += ": " + lastLine(string(b))
		}
		return "", errors.New(msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// withoutSecrets returns rs without its secret keys: an observe step gets no secret values,
// since drift does not read them.
func withoutSecrets(rs *layer.Resolved) *layer.Resolved {
	if len(rs.Secret) == 0 {
		return rs
	}
	out := *rs
	out.Keys = nil
	out.Values = map[string]any{}
	for _, k := range rs.Keys {
		if !rs.Secret[k] {
			out.Keys = append(out.Keys, k)
			out.Values[k] = rs.Values[k]
		}
	}
	out.Secret = map[string]bool{}
	return &out
}

// observeHTTP GETs url and returns its body trimmed, or the "version" field of a JSON body.
func observeHTTP(ctx context.Context, url string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("bad observe URL %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			return "", fmt.Errorf("GET %s: the answer looks like JSON but does not parse: %w", url, err)
		}
		switch v := doc["version"].(type) {
		case string:
			return strings.TrimSpace(v), nil
		case float64:
			return fmt.Sprint(v), nil
		}
		return "", fmt.Errorf("GET %s: the JSON answer has no \"version\" string", url)
	}
	return string(body), nil
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
