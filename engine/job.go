package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/secret"
	"github.com/strata-dev/strata/step"
)

// A deployment of an environment with runs_on is run by an agent of that pool, which has no
// checkout of the project: the engine that asks for it (remote.go) resolves everything a
// local run would and records it with the deployment as a Job; the agent claims it, opens
// the secrets with its own key, and runs it here (RunJob) with the same step runner,
// variables, redaction and health check as a local run.

// Job is everything an agent needs to run one deployment. It holds no secret's plaintext:
// the environment's secrets travel as the ciphertext of its secrets file (Secrets).
type Job struct {
	// Deployment is the deployment's id, which the claim fills in (the job is made before
	// the deployment is recorded).
	Deployment string `json:"deployment,omitempty"`
	// Run and Task name a runbook run (Kind "run", runjob.go): its id, which the claim
	// fills in, and the runbook.
	Run         string `json:"run,omitempty"`
	Task        string `json:"task,omitempty"`
	Project     string `json:"project"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Version     string `json:"version"`
	Kind        string `json:"kind"`
	// Release, Digest, Recipe and Bundle name the release: the agent fetches the bundle by
	// its digest and checks artifacts and recipe against theirs before anything runs.
	Release string `json:"release"`
	Digest  string `json:"digest"`
	Recipe  string `json:"recipe,omitempty"`
	Bundle  string `json:"bundle"`
	// Command is the deploy step as layer.ExpandCommand made it (every value a variable of
	// CommandEnv), its script words as written: the agent points them at its copy of the
	// recipe. Empty for a service without a deploy step.
	Command    string   `json:"command,omitempty"`
	CommandEnv []string `json:"command_env,omitempty"`
	// ObserveURL is an observe job's URL (KindObserve with observe.http), in place of a
	// command.
	ObserveURL string          `json:"observe_url,omitempty"`
	Timeout    strata.Duration `json:"timeout"`
	// Config is the resolved config without the secrets; SecretKeys are the keys the
	// service declares secret, which the agent adds from Secrets.
	Config     map[string]any `json:"config"`
	SecretKeys []string       `json:"secret_keys,omitempty"`
	Secrets    *secret.Sealed `json:"secrets,omitempty"`
	// Sources are the references of the secret keys the environment keeps outside its age
	// file (environments.NAME.secrets): the agent fetches them, on its host, with its
	// variables and tools. References only, never a value.
	Sources map[string]string `json:"sources,omitempty"`
	Health  *JobHealth        `json:"health,omitempty"`
	// Rollback is the rollback a failure of this deployment asks for (rollback: previous),
	// made with the deployment by the process that asked for it; nil when a failure is not
	// rolled back. The server that records the failure records it, in the same transaction
	// (Engine.Reported). It stays in the store: a claim does not send it to the agent.
	Rollback *RollbackJob `json:"rollback,omitempty"`
}

// RollbackJob is the rollback a failed deployment of a pool asks for: the release it
// returns to, the config that release ran with there (secrets masked) and the job an agent
// of the pool runs.
type RollbackJob struct {
	Version    string         `json:"version"`
	ReleaseID  string         `json:"release"`
	Config     map[string]any `json:"config,omitempty"`
	ConfigHash string         `json:"config_hash,omitempty"`
	Job        *Job           `json:"job"`
}

// JobHealth is a service's health check made concrete for one deployment.
type JobHealth struct {
	URL      string          `json:"url,omitempty"`
	Command  string          `json:"command,omitempty"`
	Env      []string        `json:"env,omitempty"`
	Contains string          `json:"contains,omitempty"`
	Status   int             `json:"status,omitempty"`
	Timeout  strata.Duration `json:"timeout,omitempty"`
	Interval strata.Duration `json:"interval,omitempty"`
}

// JobOutcome is what an agent reports of one attempt.
type JobOutcome struct {
	// State is strata.Succeeded or strata.Failed.
	State   string            `json:"state"`
	Health  string            `json:"health,omitempty"`
	Outputs map[string]string `json:"outputs,omitempty"`
	Error   string            `json:"error,omitempty"`
	// ExitCode and Output are a run's (KindRun): its command's exit status (-1 when it did
	// not run to an end) and its output, redacted, its first 256 KiB.
	ExitCode *int   `json:"exit_code,omitempty"`
	Output   string `json:"output,omitempty"`
}

// ParseJob reads a job as a deployment stores it. Numbers in the config come back as the
// integers or floats they were.
func ParseJob(b []byte) (*Job, error) {
	var j Job
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&j); err != nil {
		return nil, strata.Errorf(strata.EINVALID, "read the job: %w", err)
	}
	for k, v := range j.Config {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				j.Config[k] = i
			} else if f, err := n.Float64(); err == nil {
				j.Config[k] = f
			}
		}
	}
	if j.Service == "" || j.Environment == "" || j.Project == "" {
		return nil, strata.Errorf(strata.EINVALID, "read the job: it names no project, service or environment")
	}
	return &j, nil
}

// carry makes j run rel: the release's id and digest, and where its recipe and bundle are,
// for the agent to fetch and check.
func (j *Job) carry(rel *strata.Release) {
	j.Release, j.Digest, j.Recipe, j.Bundle = rel.ID, rel.Digest, rel.Recipe, rel.Bundle
}

// release is the release j carries, as the agent fetches and checks it.
func (j *Job) release() *strata.Release {
	return &strata.Release{ID: j.Release, Service: j.Service, Version: j.Version, Digest: j.Digest, Recipe: j.Recipe, Bundle: j.Bundle}
}

// newJob is what the agent of d's pool needs to run d: rs was resolved without secrets.
func (e *Engine) newJob(d *strata.Deployment, svc *strata.Service, rs *layer.Resolved, rel *strata.Release) (*Job, error) {
	j := &Job{
		Project: e.Project.Name, Service: d.Service, Environment: d.Environment, Version: d.Version,
		Kind:    d.Kind,
		Timeout: strata.Duration(30 * time.Minute), Config: map[string]any{},
	}
	j.carry(rel)
	if err := e.sealSecrets(j, svc, rs); err != nil {
		return nil, err
	}
	if svc.Deploy != nil {
		cmd, err := layer.ExpandCommand(e.Project, rs, svc.Deploy.Run, svc.Deploy.Pos)
		if err != nil {
			return nil, err
		}
		j.Command, j.CommandEnv = cmd.Text, cmd.Env
		if svc.Deploy.Timeout > 0 {
			j.Timeout = strata.Duration(svc.Deploy.Timeout)
		}
	}
	if svc.Health != nil {
		var err error
		if j.Health, err = e.jobHealth(svc, rs); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// jobHealth is svc's health check made concrete with rs (and the runtime rs was resolved
// with): its URL or command, the command's variables, what the answer must hold, its timeout
// and interval. A URL is no shell code: its values are pasted. A command gets them through
// variables (layer.ExpandCommand), so that the shell never parses one. A reference that does
// not resolve is its error. An agent's job carries it (rs then has no secrets).
func (e *Engine) jobHealth(svc *strata.Service, rs *layer.Resolved) (*JobHealth, error) {
	h := svc.Health
	jh := &JobHealth{Status: h.Status, Timeout: strata.Duration(h.Timeout), Interval: strata.Duration(h.Interval)}
	var err error
	if h.HTTP != "" {
		if jh.URL, err = layer.Expand(e.Project, rs, h.HTTP, h.Pos); err != nil {
			return nil, err
		}
	} else {
		cmd, err := layer.ExpandCommand(e.Project, rs, h.Command, h.Pos)
		if err != nil {
			return nil, err
		}
		jh.Command, jh.Env = cmd.Text, cmd.Env
	}
	if h.Contains != "" {
		if jh.Contains, err = layer.Expand(e.Project, rs, h.Contains, h.ContainsPos); err != nil {
			return nil, err
		}
		if jh.Status == 0 {
			jh.Status = http.StatusOK
		}
	}
	return jh, nil
}

// jobProbe is the probe of h, the health check of d, with the config rs and rel's recipe
// (a command check runs the scripts released with it): the variables of a step, and the
// interpolated values last, so that no inherited variable of their name wins.
func (e *Engine) jobProbe(h *JobHealth, d *strata.Deployment, rel *strata.Release, rs *layer.Resolved, secrets []string) *probe {
	p := &probe{url: h.URL, contains: h.Contains, status: h.Status, label: d.Service + "/" + d.Environment, secrets: secrets}
	if h.Command != "" {
		p.command = e.recipeCommand(rel, h.Command)
	}
	p.env = append(append([]string{}, e.BaseEnv...), rs.Environ()...)
	p.env = append(p.env, "STRATA_ENV="+d.Environment, "STRATA_SERVICE="+d.Service, "STRATA_VERSION="+d.Version,
		"STRATA_DEPLOYMENT="+d.ID, "STRATA_RECIPE="+e.recipePath(rel))
	p.env = append(p.env, h.Env...)
	return p
}

// sealSecrets fills j's config without secrets (from rs, resolved without them), and the
// secrets svc declares: those of the environment's age file sealed (their ciphertext), those
// it keeps in another source as their references.
func (e *Engine) sealSecrets(j *Job, svc *strata.Service, rs *layer.Resolved) error {
	for k, v := range rs.Values {
		if !rs.Secret[k] {
			j.Config[k] = v
		}
	}
	var stored []string
	env := e.Project.Environment(j.Environment)
	for _, k := range svc.Schema {
		if !k.Secret {
			continue
		}
		j.SecretKeys = append(j.SecretKeys, k.Name)
		if ref, ok := env.SecretSource(k.Name); ok {
			if j.Sources == nil {
				j.Sources = map[string]string{}
			}
			j.Sources[k.Name] = ref.Source
		} else if k.From == "" {
			stored = append(stored, k.Name)
		}
	}
	if len(stored) == 0 {
		return nil
	}
	v := &secret.Vault{ProjectDir: e.Project.Dir, Project: e.Project.Name}
	s, err := v.Seal(j.Environment, stored)
	if err != nil {
		return fmt.Errorf("seal the secrets of %s for its agent: %w", j.Environment, err)
	}
	for _, k := range stored {
		if s == nil || s.Values[k] == "" {
			return strata.Errorf(strata.EINVALID, "%s in %s needs the secret %s, which is not set; run `strata secret set %s %s`", j.Service, j.Environment, k, j.Environment, k)
		}
	}
	j.Secrets = s
	return nil
}

// openSecrets opens j's secrets with keys (its sealed ones) and fetches those it keeps in
// other sources, on this host, and returns j's config with them.
func (e *Engine) openSecrets(ctx context.Context, j *Job, keys *secret.Vault) (*layer.Resolved, error) {
	opened, err := keys.Open(j.Secrets)
	if err != nil {
		return nil, err
	}
	fetch := &secret.Fetcher{Dir: e.Project.Dir}
	for _, k := range slices.Sorted(maps.Keys(j.Sources)) {
		src, err := secret.ParseSource(j.Sources[k])
		if err != nil {
			return nil, fmt.Errorf("secret %s of %s: %v", k, j.Environment, err)
		}
		v, err := fetch.Fetch(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("secret %s of %s from %s: %v", k, j.Environment, src, err)
		}
		opened[k] = v
	}
	rs := &layer.Resolved{Service: j.Service, Environment: j.Environment, Values: maps.Clone(j.Config), Secret: map[string]bool{}}
	for _, k := range j.SecretKeys {
		rs.Secret[k] = true
		if v, ok := opened[k]; ok {
			rs.Values[k] = v
		}
	}
	rs.Keys = slices.Sorted(maps.Keys(rs.Values))
	return rs, nil
}

// RunJob runs one attempt of an agent's job in e, an engine whose Project names the job's
// project and whose directory is the agent's work directory, and whose StateDir holds the
// fetched bundle (StoreUpload). keys opens the job's secrets. Output goes, redacted, to logs
// (the server, through the agent's client) and to e.Log. ctx is the attempt's: the agent
// cancels it when it can no longer renew its lease, and the step is stopped.
func (e *Engine) RunJob(ctx context.Context, j *Job, attempt int, logs strata.LogStore, keys *secret.Vault) JobOutcome {
	d := &strata.Deployment{ID: j.Deployment, Service: j.Service, Environment: j.Environment, Version: j.Version, Kind: j.Kind, Attempt: attempt}
	rel := j.release()
	label := d.Service + "/" + d.Environment
	failed := func(why string) JobOutcome { return JobOutcome{State: strata.Failed, Error: why} }
	if attempt > 1 {
		// An earlier attempt whose agent died on this host may have left its step running:
		// no two copies of a step run at once (resume.go does the same for a local run).
		stopLeftovers(d)
	}

	rs, err := e.openSecrets(ctx, j, keys)
	if err != nil {
		return failed(err.Error())
	}
	secrets := secretValues(rs)
	sink := newLogSink(ctx, logs, d.ID, attempt)
	defer sink.Close()
	e.logf("▸ %s → %s: deploy %s (%s, attempt %d)", d.Service, d.Environment, d.Version, d.ID, attempt)

	// The bundle was fetched and checked against its digest; its trees are checked again,
	// as a local run checks them, before anything of it runs.
	if why := e.verifyArtifacts(rel); why != "" {
		return failed(why)
	}
	out := JobOutcome{State: strata.Succeeded}
	if j.Command != "" {
		cfg, err := rs.JSON()
		if err != nil {
			return failed(err.Error())
		}
		cfgPath, outPath, err := e.writeScratch(d, cfg)
		if err != nil {
			return failed(fmt.Sprintf("write the step's scratch files: %v", err))
		}
		defer dropScratch(cfgPath, outPath, len(secrets) > 0)
		env := append(e.stepEnv(d, rel, rs, cfgPath, outPath), j.CommandEnv...)
		w := e.stepOutput(label, "deploy", sink, secrets...)
		res, err := e.runStep(ctx, step.Spec{Name: "deploy", Command: e.recipeCommand(rel, j.Command), Dir: e.Project.Dir,
			Env: env, Timeout: time.Duration(j.Timeout), Output: w})
		w.Flush()
		switch {
		case ctx.Err() != nil:
			return failed(fmt.Sprintf("the attempt was stopped: %v", context.Cause(ctx)))
		case err != nil:
			return failed(secret.Redact(err.Error(), secrets))
		case res.ExitCode != 0:
			return failed(fmt.Sprintf("deploy step exited with status %d", res.ExitCode))
		}
		outs, failure := readOutputs(outPath)
		if failure != "" {
			return failed(failure)
		}
		out.Outputs = redactOutputs(outs, secrets)
	}
	if h := j.Health; h != nil {
		p := e.jobProbe(h, d, rel, rs, secrets)
		ok, detail := e.probeUntil(ctx, p, time.Duration(h.Timeout), time.Duration(h.Interval), sink, secrets, label)
		if ctx.Err() != nil {
			return failed(fmt.Sprintf("the attempt was stopped: %v", context.Cause(ctx)))
		}
		if !ok {
			out.State, out.Health, out.Error = strata.Failed, strata.Unhealthy, "health check failed: "+secret.Redact(detail, secrets)
			return out
		}
		out.Health = strata.Healthy
	}
	return out
}
