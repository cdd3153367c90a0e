package http

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
)

// Headers that carry the CLI's view of a response. Every API response has ExitHeader: the
// exit status the CLI would end with locally (0 done, 1 failed, 2 bad input, 3 blocked, 4
// not allowed). An error response also has ErrorCodeHeader (a strata error code). When an
// error comes with a result document (a promotion that waits on a gate, a deployment that
// failed), the body is that document and ErrorHeader holds the error's message,
// percent-encoded (url.QueryUnescape reads it back); otherwise the body is
// {"error": {"code", "message"}}.
const (
	ExitHeader      = "Strata-Exit"
	ErrorCodeHeader = "Strata-Error-Code"
	ErrorHeader     = "Strata-Error"
	// FinalHeader is "true" on an error that asking again will not mend (strata.IsTerminal:
	// its code is invalid, not_found or unauthorized, or the server marked it final, such
	// as a bundle whose content does not match its digest). The client marks the error it
	// returns final too, so that an agent or a script's retry loop stops.
	FinalHeader = "Strata-Error-Final"
)

// Status returns the HTTP status of an error code. This table is the one place codes map to
// HTTP statuses (strata.ExitStatus is the one place they map to exit statuses):
//
//	invalid       400 Bad Request
//	not_found     404 Not Found
//	conflict      409 Conflict
//	blocked       409 Conflict (Strata-Exit: 3 tells it from a conflict)
//	unauthorized  401 Unauthorized (no or bad token); 403 Forbidden (a role or environment
//	              the token does not cover); 429 Too Many Requests (too many bad tokens
//	              from the client's address, see authLimiter)
//	failed        422 Unprocessable Entity (a deployment or check ran and failed)
//	internal      500 Internal Server Error (the message is generic; the text is logged)
func Status(code string) int {
	switch code {
	case "":
		return http.StatusOK
	case strata.EINVALID:
		return http.StatusBadRequest
	case strata.ENOTFOUND:
		return http.StatusNotFound
	case strata.ECONFLICT, strata.EBLOCKED:
		return http.StatusConflict
	case strata.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case strata.EFAILED:
		return http.StatusUnprocessableEntity
	default:
		return http.StatusInternalServerError
	}
}

// deny returns a 403 error (a *command.Denied, which declared commands return too) with a
// message saying what the token lacks.
func deny(format string, args ...any) error { return command.Deny(format, args...) }

// throttled is an EUNAUTHORIZED error for a client address that has failed to authenticate
// too often: 429 Too Many Requests, with Retry-After. The token was not looked up.
type throttled struct {
	err   *strata.Error
	retry time.Duration
}

func (t throttled) Error() string { return t.err.Error() }
func (t throttled) Unwrap() error { return t.err }

// httpStatus is the status of err: Status of its code, 403 for a forbidden error, 429 for a
// throttled one.
func httpStatus(err error) int {
	var f *command.Denied
	if errors.As(err, &f) {
		return http.StatusForbidden
	}
	var t throttled
	if errors.As(err, &t) {
		return http.StatusTooManyRequests
	}
	return Status(strata.ErrorCode(err))
}

// internalMessage is all an API client learns of an internal error.
const internalMessage = "internal error; the server log has the details"

// publicMessage is err's message as clients see it: internal errors are not shown.
func publicMessage(err error) string {
	if strata.ErrorCode(err) == strata.EINTERNAL {
		return internalMessage
	}
	return err.Error()
}

// writeError writes err as {"error": {"code", "message"}}, or, when doc is not nil, writes
// doc with the error in the headers. Internal errors are logged with their text.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error, doc any) {
	code := strata.ErrorCode(err)
	if code == strata.EINTERNAL {
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h := w.Header()
	h.Set(ExitHeader, strconv.Itoa(strata.ExitStatus(err)))
	h.Set(ErrorCodeHeader, code)
	final := strata.IsTerminal(err)
	if final {
		h.Set(FinalHeader, "true")
	}
	if code == strata.EUNAUTHORIZED && httpStatus(err) == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="strata"`)
	}
	var t throttled
	if errors.As(err, &t) {
		h.Set("Retry-After", strconv.Itoa(retryAfter(t.retry)))
	}
	if doc != nil {
		h.Set(ErrorHeader, url.QueryEscape(publicMessage(err)))
		s.writeJSON(w, r, httpStatus(err), doc)
		return
	}
	s.writeJSON(w, r, httpStatus(err), errorDoc{Error: errorBody{Code: code, Message: publicMessage(err), Final: final}})
}

// errorDoc is the body of an error response.
type errorDoc struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Final is FinalHeader's word in the body.
	Final bool `json:"final,omitempty"`
}

// logError logs an error the client never sees (a write to a gone client).
func logError(log *slog.Logger, msg string, err error) {
	if err != nil {
		log.Warn(msg, "err", err)
	}
}
