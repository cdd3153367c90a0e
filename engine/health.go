package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/secret"
	"github.com/strata-dev/strata/step"
	"github.com/strata-dev/strata/telemetry"
	"go.opentelemetry.io/otel/attribute"
)

// maxProbe bounds one try of a health check; a longer timeout is spent on more tries.
const maxProbe = 10 * time.Second

// bodyLimit is how much of a health answer is read: enough for any health page, and a
// bound on memory whatever the other end sends.
const bodyLimit = 64 << 10

// probe is one health check made concrete for a deployment: its URL or command, and for
// HTTP what the answer must hold, with every ${...} interpolated.
type probe struct {
	url, command string
	contains     string
	status       int // 0: any 2xx
	env          []string
	label        string
	// secrets are redacted from what the check saw before it is quoted (quoting escapes
	// them out of the redactor's sight).
	secrets []string
}

// newProbe interpolates svc's health check for d with the config rs; a command check runs
// rel's recipe (the scripts released with it), not today's files. It is the probe an agent
// makes of the same check (jobHealth, then jobProbe), made where the project is.
func (e *Engine) newProbe(svc *strata.Service, rs *layer.Resolved, d *strata.Deployment, rel *strata.Release) (*probe, error) {
	h, err := e.jobHealth(svc, rs)
	if err != nil {
		return nil, err
	}
	return e.jobProbe(h, d, rel, rs, secretValues(rs)), nil
}

// try runs the check once, giving it at most per, and returns "" when it passed, else what
// it observed. cut says the try ran out of time (a timeout, not an answer).
func (e *Engine) try(ctx context.Context, p *probe, per time.Duration, out io.Writer) (last string, cut bool) {
	if p.url != "" {
		return probeHTTP(ctx, p, per)
	}
	res, err := e.runStep(ctx, step.Spec{Name: "health", Command: p.command, Dir: e.Project.Dir, Env: p.env, Timeout: per, Output: out, Grace: time.Second})
	switch {
	case res.TimedOut:
		return fmt.Sprintf("health command did not finish within %s", strata.Duration(per.Round(10*time.Millisecond))), true
	case err != nil:
		return err.Error(), false
	case res.ExitCode != 0:
		return fmt.Sprintf("health command exited with status %d", res.ExitCode), false
	}
	return "", false
}

// checkHealth probes the service's health check until it passes or its timeout runs out,
// waiting Interval between tries and backing off to at most 5s. It returns whether the check
// passed and, when not, the last thing the check observed (an answer rather than the try
// the deadline cut short, when there was one).
func (e *Engine) checkHealth(ctx context.Context, svc *strata.Service, rs *layer.Resolved, d *strata.Deployment, rel *strata.Release, sink *logSink, secrets []string, label string) (ok bool, detail string) {
	ctx, span := telemetry.Start(ctx, "health check", attribute.String("deployment", d.ID))
	defer func() {
		span.SetAttributes(attribute.Bool("healthy", ok))
		if !ok {
			telemetry.End(span, errors.New(detail))
			return
		}
		span.End()
	}()
	h := svc.Health
	p, err := e.newProbe(svc, rs, d, rel)
	if err != nil {
		return false, secret.Redact(err.Error(), secrets)
	}
	return e.probeUntil(ctx, p, h.Timeout, h.Interval, sink, secrets, label)
}

// probeUntil tries p until it passes or timeout (30s when 0) runs out, as checkHealth
// describes; an agent runs the probe its job carries through it too.
func (e *Engine) probeUntil(ctx context.Context, p *probe, timeout, interval time.Duration, sink *logSink, secrets []string, label string) (bool, string) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if interval <= 0 {
		interval = time.Second
	}
	deadline := time.Now().Add(timeout)
	var last, seen string // seen: the last answer that was not a timeout
	for try := 1; ; try++ {
		per := min(time.Until(deadline), maxProbe)
		out := e.stepOutput(label, "health", sink, secrets...)
		got, cut := e.try(ctx, p, per, out)
		out.Flush()
		last = secret.Redact(got, secrets)
		if last == "" {
			sink.note("health", fmt.Sprintf("health: ok after %d tr%s", try, plural(try, "y", "ies")))
			e.logf("  %s | health: ok", label)
			return true, ""
		}
		if !cut {
			seen = last
		}
		if ctx.Err() != nil {
			return false, pick(last, seen)
		}
		if time.Until(deadline) <= 0 {
			// A try the deadline cut short says less than an earlier answer did.
			if cut && seen != "" {
				last = seen + " (the last try had no answer before the timeout)"
			}
			sink.note("health", fmt.Sprintf("health: failed after %d tries in %s: %s", try, timeout, last))
			return false, fmt.Sprintf("%s (after %d tries in %s)", last, try, timeout)
		}
		if try == 1 || try%5 == 0 {
			e.logf("  %s | health: not yet (%s); retrying until %s", label, last, timeout)
		}
		select {
		case <-ctx.Done():
			return false, pick(last, seen)
		case <-time.After(min(interval, time.Until(deadline))):
		}
		interval = min(interval*3/2, 5*time.Second)
	}
}

// pick returns seen, an answer, over last when last was a try cut short.
func pick(last, seen string) string {
	if seen != "" {
		return seen
	}
	return last
}

// probeHTTP GETs p.url once within timeout and returns "" when the answer is what p wants
// (p.status, or any 2xx; a body holding p.contains), else what was observed, and whether
// the try ran out of time.
func probeHTTP(ctx context.Context, p *probe, timeout time.Duration) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return fmt.Sprintf("bad health URL %q: %v", p.url, err), false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Sprintf("GET %s: %s", p.url, describe(err, timeout)), timedOut(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	if err != nil {
		return fmt.Sprintf("GET %s: %s: reading the body: %s", p.url, resp.Status, describe(err, timeout)), timedOut(err)
	}
	switch {
	case p.status != 0 && resp.StatusCode != p.status:
		return fmt.Sprintf("GET %s: %s (want %d %s)", p.url, resp.Status, p.status, http.StatusText(p.status)), false
	case p.status == 0 && (resp.StatusCode < 200 || resp.StatusCode > 299):
		return fmt.Sprintf("GET %s: %s", p.url, resp.Status), false
	case p.contains != "" && !bytes.Contains(body, []byte(p.contains)):
		return fmt.Sprintf("GET %s: body does not contain %q (it begins %s)", p.url, secret.Redact(p.contains, p.secrets),
			excerpt(secret.Redact(string(body), p.secrets))), false
	}
	return "", false
}

// describe says what a failed request observed: "connection refused" reads better than
// the URL error around it, and a timeout says how long it waited.
func describe(err error, timeout time.Duration) string {
	if timedOut(err) {
		return fmt.Sprintf("no answer within %s", strata.Duration(timeout.Round(10*time.Millisecond)))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func timedOut(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// excerpt quotes the start of a body for a message: one line, at most 60 bytes, escaped so
// that no control character from the other end reaches a terminal.
func excerpt(body string) string {
	s := strings.TrimSpace(body)
	if s == "" {
		return "empty"
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 60 {
		s = strings.ToValidUTF8(s[:60], "") + " …"
	}
	return fmt.Sprintf("%q", s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
