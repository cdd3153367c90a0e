package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// Client runs the CLI's commands against a `strata serve`: each method sends one API
// request and returns the same document, and an error with the same code, as the command's
// operation in package report returns locally. The server's project and store are the ones it
// was started on; the principal is the token's name.
type Client struct {
	// URL is the server's base URL ("http://127.0.0.1:7480").
	URL string
	// Token is sent as "Authorization: Bearer TOKEN".
	Token string
	// HTTP sends the requests; nil means a client without a timeout (a deployment may take
	// as long as its steps do).
	HTTP *http.Client
}

// NewClient returns a client of the server at rawURL, checking the URL names an http or
// https server. EINVALID otherwise.
func NewClient(rawURL, token string) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := rawURL
		if u != nil {
			shown = u.Redacted()
		}
		return nil, strata.Errorf(strata.EINVALID, "--server %q: want the server's URL, e.g. http://127.0.0.1:7480", shown)
	}
	return &Client{URL: strings.TrimRight(u.String(), "/"), Token: token}, nil
}

// where is the server's URL as messages show it: a password in it is hidden.
func (c *Client) where() string {
	if u, err := url.Parse(c.URL); err == nil {
		return u.Redacted()
	}
	return c.URL
}

// maxResponse bounds a response body the client reads (a long history or audit log).
const maxResponse = 256 << 20

// do sends one request. body, when not nil, is sent as JSON. A successful response is
// decoded into doc. An error response that carries a result document (ErrorHeader set) is
// decoded into doc too, and returned with ok true; any other error response comes back as
// a *strata.Error with the server's code and message.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, doc any) (ok bool, err error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return false, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	target := c.URL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return false, strata.Errorf(strata.EINVALID, "--server %s: %w", c.where(), err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, c.unreachable(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return false, strata.Errorf(strata.EINTERNAL, "read the answer of %s to %s %s: %w", c.where(), method, path, err)
	}
	code := resp.Header.Get(ErrorCodeHeader)
	if code == "" && resp.StatusCode < 300 {
		if err := decodeDoc(data, doc); err != nil {
			return false, strata.Errorf(strata.EINTERNAL, "the server at %s answered %s %s with a document this strata cannot read: %w", c.where(), method, path, err)
		}
		return true, nil
	}
	if msg, has := resp.Header[http.CanonicalHeaderKey(ErrorHeader)]; has && code != "" {
		text, uerr := url.QueryUnescape(strings.Join(msg, ""))
		if uerr != nil {
			text = strings.Join(msg, "")
		}
		if derr := decodeDoc(data, doc); derr != nil {
			return false, &strata.Error{Code: code, Message: text}
		}
		return true, &strata.Error{Code: code, Message: text}
	}
	return false, c.errorOf(resp, method, path, code, data)
}

// errorOf reads an error response: {"error": {"code", "message"}}, else what the status and
// the exit header say.
func (c *Client) errorOf(resp *http.Response, method, path, code string, data []byte) error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := ""
	if json.Unmarshal(data, &body) == nil {
		if code == "" {
			code = body.Error.Code
		}
		msg = body.Error.Message
	}
	if code == "" {
		code = codeOfExit(resp.Header.Get(ExitHeader))
	}
	if code == "" {
		code = codeOfStatus(resp.StatusCode)
	}
	if msg == "" {
		switch {
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
			msg = fmt.Sprintf("the server at %s has no route %s %s (is it an older strata?)", c.where(), method, path)
		default:
			msg = fmt.Sprintf("the server at %s answered %s %s with %s", c.where(), method, path, resp.Status)
		}
	}
	if resp.StatusCode == http.StatusUnauthorized && c.Token == "" {
		msg += " (set --token or STRATA_TOKEN to a token from `strata token create`)"
	}
	return &strata.Error{Code: code, Message: msg}
}

// codeOfExit maps a Strata-Exit value back to an error code of that exit status.
func codeOfExit(exit string) string {
	switch n, _ := strconv.Atoi(exit); n {
	case 1:
		return strata.EFAILED
	case 2:
		return strata.EINVALID
	case 3:
		return strata.EBLOCKED
	case 4:
		return strata.EUNAUTHORIZED
	}
	return ""
}

// codeOfStatus maps an HTTP status with nothing else to go by to an error code.
func codeOfStatus(status int) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return strata.EUNAUTHORIZED
	case status == http.StatusNotFound:
		return strata.ENOTFOUND
	case status == http.StatusConflict:
		return strata.ECONFLICT
	case status == http.StatusUnprocessableEntity:
		return strata.EFAILED
	case status >= 400 && status < 500:
		return strata.EINVALID
	}
	return strata.EINTERNAL
}

// unreachable turns a failed round trip into one line that says what to check, rather than
// a stack of dial messages.
func (c *Client) unreachable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	why := "no answer"
	var dns *net.DNSError
	var errno syscall.Errno
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.As(err, &dns):
		why = "no such host " + dns.Name
	case errors.As(err, &ne) && ne.Timeout():
		why = "timed out"
	case errors.As(err, &errno):
		why = errno.Error()
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		why = "the connection closed before an answer"
	default:
		// Keep the innermost message: "tls: ...", "x509: ...".
		for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
			why = u.Error()
		}
	}
	return &strata.Error{Code: strata.EINVALID, Message: fmt.Sprintf("cannot reach the Strata server at %s: %s (is `strata serve` running?)", c.where(), why)}
}

// decodeDoc decodes a response body into doc; numbers inside untyped values (config values)
// keep their text, so they print as the server printed them.
func decodeDoc(data []byte, doc any) error {
	if doc == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(doc)
}

// p escapes a path segment.
func p(s string) string { return url.PathEscape(s) }

// result returns doc when the server sent one, with err.
func result[T any](doc *T, ok bool, err error) (*T, error) {
	if !ok {
		return nil, err
	}
	return doc, err
}

// Validate returns the summary of the server's project.
func (c *Client) Validate(ctx context.Context) (*report.Validation, error) {
	var doc report.Validation
	ok, err := c.do(ctx, "GET", "/api/v1/validate", nil, nil, &doc)
	return result(&doc, ok, err)
}

// Environments returns `env list`.
func (c *Client) Environments(ctx context.Context) ([]report.Environment, error) {
	var doc []report.Environment
	_, err := c.do(ctx, "GET", "/api/v1/environments", nil, nil, &doc)
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// Config returns a service's resolved config in an environment.
func (c *Client) Config(ctx context.Context, service, env string, explain bool) (*report.Config, error) {
	q := url.Values{"env": {env}}
	if explain {
		q.Set("explain", "1")
	}
	var doc report.Config
	ok, err := c.do(ctx, "GET", "/api/v1/config/"+p(service), q, nil, &doc)
	return result(&doc, ok, err)
}

// Diff compares two environments.
func (c *Client) Diff(ctx context.Context, a, b string) (*report.Diff, error) {
	var doc report.Diff
	ok, err := c.do(ctx, "GET", "/api/v1/diff", url.Values{"a": {a}, "b": {b}}, nil, &doc)
	return result(&doc, ok, err)
}

// Release builds and records a release on the server.
func (c *Client) Release(ctx context.Context, req report.ReleaseRequest) (*report.Release, error) {
	var doc report.Release
	ok, err := c.do(ctx, "POST", "/api/v1/releases", nil, req, &doc)
	return result(&doc, ok, err)
}

// Deploy deploys one release to one environment.
func (c *Client) Deploy(ctx context.Context, req report.DeployRequest) (*report.Deployment, error) {
	var doc report.Deployment
	ok, err := c.do(ctx, "POST", "/api/v1/deployments", nil, req, &doc)
	return result(&doc, ok, err)
}

// Rollback redeploys the previous good release (or req.To).
func (c *Client) Rollback(ctx context.Context, req report.RollbackRequest) (*report.Deployment, error) {
	var doc report.Deployment
	ok, err := c.do(ctx, "POST", "/api/v1/rollbacks", nil, req, &doc)
	return result(&doc, ok, err)
}

// Promote asks to move a release into a stage.
func (c *Client) Promote(ctx context.Context, req report.PromoteRequest) (*report.Promotion, error) {
	var doc report.Promotion
	ok, err := c.do(ctx, "POST", "/api/v1/promotions", nil, req, &doc)
	return result(&doc, ok, err)
}

// Plan says what a promotion would do, changing nothing. The server's plan route takes no
// "parallel".
func (c *Client) Plan(ctx context.Context, req report.PromoteRequest) (*report.Promotion, error) {
	req.Parallel = 0
	var doc report.Promotion
	ok, err := c.do(ctx, "POST", "/api/v1/plan", nil, req, &doc)
	return result(&doc, ok, err)
}

// Approve approves a waiting promotion as the token's principal.
func (c *Client) Approve(ctx context.Context, id string, req report.ApproveRequest) (*report.Promotion, error) {
	var doc report.Promotion
	ok, err := c.do(ctx, "POST", "/api/v1/promotions/"+p(id)+"/approve", nil, req, &doc)
	return result(&doc, ok, err)
}

// Reject rejects a waiting promotion.
func (c *Client) Reject(ctx context.Context, id string, req report.RejectRequest) (*report.Promotion, error) {
	var doc report.Promotion
	ok, err := c.do(ctx, "POST", "/api/v1/promotions/"+p(id)+"/reject", nil, req, &doc)
	return result(&doc, ok, err)
}

// Status returns the environment x service matrix.
func (c *Client) Status(ctx context.Context) (*report.Status, error) {
	var doc report.Status
	ok, err := c.do(ctx, "GET", "/api/v1/status", nil, nil, &doc)
	return result(&doc, ok, err)
}

// History returns the deployments q selects, newest first.
func (c *Client) History(ctx context.Context, q report.HistoryQuery) ([]report.Deployment, error) {
	v := url.Values{}
	if q.Service != "" {
		v.Set("service", q.Service)
	}
	if q.Environment != "" {
		v.Set("env", q.Environment)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var doc []report.Deployment
	if _, err := c.do(ctx, "GET", "/api/v1/deployments", v, nil, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// Logs returns a deployment's state and its output after the chunk numbered after.
func (c *Client) Logs(ctx context.Context, id string, after int64) (*report.Logs, error) {
	var doc report.Logs
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	ok, err := c.do(ctx, "GET", "/api/v1/deployments/"+p(id)+"/logs", q, nil, &doc)
	return result(&doc, ok, err)
}

// Resume runs interrupted deployments and promotions whose gates opened, on the server.
func (c *Client) Resume(ctx context.Context) (*report.Resume, error) {
	var doc report.Resume
	ok, err := c.do(ctx, "POST", "/api/v1/resume", nil, struct{}{}, &doc)
	return result(&doc, ok, err)
}

// Freeze closes an environment to deployments.
func (c *Client) Freeze(ctx context.Context, req report.FreezeRequest) (*strata.Freeze, error) {
	var doc strata.Freeze
	ok, err := c.do(ctx, "POST", "/api/v1/freezes", nil, req, &doc)
	return result(&doc, ok, err)
}

// Unfreeze reopens a frozen environment.
func (c *Client) Unfreeze(ctx context.Context, env string) (*report.Unfrozen, error) {
	var doc report.Unfrozen
	ok, err := c.do(ctx, "DELETE", "/api/v1/freezes/"+p(env), nil, nil, &doc)
	return result(&doc, ok, err)
}

// Audit returns the audit events f selects, oldest first.
func (c *Client) Audit(ctx context.Context, f strata.EventFilter) ([]*strata.Event, error) {
	v := url.Values{}
	for k, x := range map[string]string{"service": f.Service, "env": f.Environment, "actor": f.Actor, "action": f.Action} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if f.Limit != 0 {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	doc := []*strata.Event{}
	if _, err := c.do(ctx, "GET", "/api/v1/audit", v, nil, &doc); err != nil {
		return nil, err
	}
	// The server indents its documents, details included; the store keeps them compact, as
	// the text table prints them.
	for _, e := range doc {
		var b bytes.Buffer
		if len(e.Detail) > 0 && json.Compact(&b, e.Detail) == nil {
			e.Detail = b.Bytes()
		}
	}
	return doc, nil
}

// Verify recomputes the audit log's hash chain on the server.
func (c *Client) Verify(ctx context.Context) (*report.Verification, error) {
	var doc report.Verification
	ok, err := c.do(ctx, "GET", "/api/v1/audit", url.Values{"verify": {"1"}}, nil, &doc)
	return result(&doc, ok, err)
}

// Drift reports config and version drift (in env only, when it is not "").
func (c *Client) Drift(ctx context.Context, env string) (*report.Drift, error) {
	v := url.Values{}
	if env != "" {
		v.Set("env", env)
	}
	var doc report.Drift
	ok, err := c.do(ctx, "GET", "/api/v1/drift", v, nil, &doc)
	return result(&doc, ok, err)
}

// CreateEnv makes a short-lived environment.
func (c *Client) CreateEnv(ctx context.Context, req report.EnvCreateRequest) (*report.Ephemeral, error) {
	var doc report.Ephemeral
	ok, err := c.do(ctx, "POST", "/api/v1/environments", nil, req, &doc)
	return result(&doc, ok, err)
}

// DestroyEnv runs a short-lived environment's destroy steps and forgets it.
func (c *Client) DestroyEnv(ctx context.Context, name string) (*report.Destroyed, error) {
	var doc report.Destroyed
	ok, err := c.do(ctx, "DELETE", "/api/v1/environments/"+p(name), nil, nil, &doc)
	return result(&doc, ok, err)
}
