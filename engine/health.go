package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/secret"
	"github.com/strata-dev/strata/step"
)

// checkHealth probes the service's health check until it passes or its timeout runs out,
// waiting Interval between tries and backing off to at most 5s. It returns whether the check
// passed and, when not, the last failure.
func (e *Engine) checkHealth(ctx context.Context, svc *strata.Service, rs *layer.Resolved, d *strata.Deployment, rel *strata.Release, sink *logSink, secrets []string, label string) (bool, string) {
	h := svc.Health
	rt := &layer.Runtime{Version: d.Version}
	// A URL is no shell code: its values are pasted. A command gets them through
	// variables (layer.Command), so that the shell never parses one.
	var target string
	var cmd layer.Command
	var err error
	if h.HTTP != "" {
		target, err = layer.Expand(e.Project, rs, h.HTTP, h.Pos, rt)
	} else {
		cmd, err = layer.ExpandCommand(e.Project, rs, h.Command, h.Pos, rt)
		cmd.Text = e.recipeCommand(rel, cmd.Text)
	}
	if err != nil {
		return false, err.Error()
	}
	timeout, interval := h.Timeout, h.Interval
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if interval <= 0 {
		interval = time.Second
	}
	deadline := time.Now().Add(timeout)
	env := append(append([]string{}, e.BaseEnv...), rs.Environ()...)
	env = append(env, "STRATA_ENV="+d.Environment, "STRATA_SERVICE="+d.Service, "STRATA_VERSION="+d.Version, "STRATA_DEPLOYMENT="+d.ID, "STRATA_RECIPE="+e.recipePath(rel))
	env = append(env, cmd.Env...)
	var last string
	for try := 1; ; try++ {
		left := time.Until(deadline)
		per := min(left, 10*time.Second)
		if h.HTTP != "" {
			last = probeHTTP(ctx, target, per)
		} else {
			out := e.stepOutput(label, "health", sink, secrets...)
			res, err := e.runStep(ctx, step.Spec{Name: "health", Command: cmd.Text, Dir: e.Project.Dir, Env: env, Timeout: per, Output: out, Grace: time.Second})
			out.Flush()
			switch {
			case err != nil:
				last = err.Error()
			case res.ExitCode != 0:
				last = fmt.Sprintf("health command exited with status %d", res.ExitCode)
			default:
				last = ""
			}
		}
		last = secret.Redact(last, secrets)
		if last == "" {
			sink.note("health", fmt.Sprintf("health: ok after %d tr%s", try, plural(try, "y", "ies")))
			e.logf("  %s | health: ok", label)
			return true, ""
		}
		if ctx.Err() != nil {
			return false, last
		}
		if time.Until(deadline) <= 0 {
			sink.note("health", fmt.Sprintf("health: failed after %d tries in %s: %s", try, timeout, last))
			return false, fmt.Sprintf("%s (after %d tries in %s)", last, try, timeout)
		}
		if try == 1 || try%5 == 0 {
			e.logf("  %s | health: not yet (%s); retrying until %s", label, last, timeout)
		}
		select {
		case <-ctx.Done():
			return false, last
		case <-time.After(min(interval, time.Until(deadline))):
		}
		interval = min(interval*3/2, 5*time.Second)
	}
}

// probeHTTP returns "" when url answers 2xx within timeout, else what went wrong.
func probeHTTP(ctx context.Context, url string, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Sprintf("bad health URL %q: %v", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Sprintf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprintf("GET %s: %s", url, resp.Status)
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
