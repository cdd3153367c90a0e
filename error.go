package strata

import (
	"errors"
	"fmt"
)

// Error codes. Every error Strata returns to a user maps to one of these, in one place, to
// an exit status (ExitStatus) and, in the server, an HTTP status.
const (
	EINVALID      = "invalid"      // bad input: usage, configuration, unknown name
	ENOTFOUND     = "not_found"    // a named thing does not exist
	ECONFLICT     = "conflict"     // the thing exists, or someone else holds it
	EBLOCKED      = "blocked"      // a gate or policy is closed
	EUNAUTHORIZED = "unauthorized" // no or bad token, or a role that does not cover it
	EFAILED       = "failed"       // a deployment or check ran and failed
	EINTERNAL     = "internal"     // anything else; its text is not shown to API clients
)

// Error is an error with a code and a message fit for the user.
type Error struct {
	Code    string
	Message string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the message, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil && e.Message != "" {
		return e.Message + ": " + e.Err.Error()
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ExitStatus maps an error to the CLI's exit status: 0 done; 1 a deployment or check failed;
// 2 bad input (including a conflict with what exists); 3 blocked by a gate, a policy or a
// deployment that holds the (service, environment); 4 not allowed.
func ExitStatus(err error) int {
	switch ErrorCode(err) {
	case "":
		return 0
	case EINVALID, ENOTFOUND, ECONFLICT:
		return 2
	case EBLOCKED:
		return 3
	case EUNAUTHORIZED:
		return 4
	default:
		return 1
	}
}

// Problem is one thing wrong with the configuration, at a place: "file:line:col: what is
// wrong; what would be right". Warnings are shown but do not fail validation.
type Problem struct {
	Pos     Pos
	Message string
	Warning bool
}

// Error returns "file:line:col: message" ("warning: " marks a warning).
func (p *Problem) Error() string {
	prefix := ""
	if p.Warning {
		prefix = "warning: "
	}
	if p.Pos.IsZero() {
		return prefix + p.Message
	}
	return p.Pos.String() + ": " + prefix + p.Message
}

// Problems is a list of configuration problems, reported all at once.
type Problems []*Problem

// Err returns nil when no problem is an error, else an EINVALID *Error joining every error
// (not the warnings), one per line, in file order.
func (ps Problems) Err() error {
	var errs []error
	for _, p := range ps {
		if !p.Warning {
			errs = append(errs, p)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Err: errors.Join(errs...)}
}

// Warnings returns the problems that are only warnings.
func (ps Problems) Warnings() Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}
