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
)

// Client runs the CLI's commands against a `strata serve`: Run sends a declared command
// (package command) as one API request and returns the same document, and an error with the
// same code, as the command returns locally. The server's project and store are the ones it
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

// nextKey is the context key of WithNext.
type nextKey struct{}

// WithNext returns ctx with next, which a list's answer through it sets to where the list's
// next page begins (X-Next-Cursor; "" when the answer ends the list).
func WithNext(ctx context.Context, next *string) context.Context {
	return context.WithValue(ctx, nextKey{}, next)
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
	ctype := "application/json"
	if r, stream := body.(io.Reader); stream {
		rd, ctype = r, "application/x-tar"
	} else if body != nil {
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
		req.Header.Set("Content-Type", ctype)
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
		return false, &unreachableError{strata.Errorf(strata.EINTERNAL, "read the answer of %s to %s %s: %w", c.where(), method, path, err)}
	}
	code := resp.Header.Get(ErrorCodeHeader)
	if code == "" && resp.StatusCode < 300 {
		if next, ok := ctx.Value(nextKey{}).(*string); ok {
			*next = resp.Header.Get("X-Next-Cursor")
		}
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
		err := finalIf(resp, &strata.Error{Code: code, Message: text})
		if derr := decodeDoc(data, doc); derr != nil {
			return false, err
		}
		return true, err
	}
	return false, finalIf(resp, c.errorOf(resp, method, path, code, data))
}

// finalIf marks err final (strata.Terminal) when the server said it is (FinalHeader), so
// that strata.IsTerminal sees through the network what it would have seen in the server.
func finalIf(resp *http.Response, err error) error {
	if resp.Header.Get(FinalHeader) == "true" {
		return strata.Terminal(err)
	}
	return err
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
		case resp.StatusCode == http.StatusBadRequest && bytes.Contains(data, []byte("HTTP request to an HTTPS server")):
			msg = fmt.Sprintf("the server at %s speaks HTTPS; use an https:// URL", c.where())
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
	// The server answered, but not as this URL expects: say what would fix it.
	if why := untrusted(err); why != "" {
		return &strata.Error{Code: strata.EINVALID, Message: fmt.Sprintf("the Strata server at %s is not trusted: %s", c.where(), why)}
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return &strata.Error{Code: strata.EINVALID, Message: fmt.Sprintf("the Strata server at %s speaks plain HTTP, not HTTPS; use an http:// URL, or serve with --tls-cert and --tls-key", c.where())}
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
	return &unreachableError{&strata.Error{Code: strata.EINVALID, Message: fmt.Sprintf("cannot reach the Strata server at %s: %s (is `strata serve` running?)", c.where(), why)}}
}

// unreachableError is a request that got no answer: the server could not be reached, or the
// connection broke before the answer was read. A command reports it (exit 2); an agent waits
// it out (Unreachable).
type unreachableError struct{ err *strata.Error }

func (u *unreachableError) Error() string { return u.err.Error() }
func (u *unreachableError) Unwrap() error { return u.err }

// Unreachable reports whether err is a request that got no answer from the server, which a
// worker tries again, as opposed to the server's refusal.
func Unreachable(err error) bool {
	var u *unreachableError
	return errors.As(err, &u)
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
