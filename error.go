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

	// wrapped holds what Errorf's %w verbs named, already part of Message, so that
	// errors.Is and errors.As still find them.
	wrapped error
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

// Unwrap returns the cause: Err, else what Errorf's %w verbs named.
func (e *Error) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return e.wrapped
}

// Errorf returns an *Error with the given code and a formatted message. As with fmt.Errorf,
// a %w verb wraps its error: the message reads the same as with %v, and errors.Is, errors.As
// and IsTerminal see the wrapped error, so its code and its sentinel are not lost.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: err.Error()}
	if errors.Unwrap(err) != nil || len(unwrapAll(err)) > 0 {
		e.wrapped = err
	}
	return e
}

// unwrapAll returns the errors a multi-error (errors.Join, fmt.Errorf with several %w) holds.
func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return nil
}

// ClaimError is a claim that failed while the write it went with stood: Store.FinishAndCreate
// returns one when it recorded the finished deployment but could not claim the next. Err is
// the claim's own failure, with its code (EBLOCKED naming the holder, ECONFLICT, EINVALID),
// which ErrorCode and errors.Is see through the ClaimError.
type ClaimError struct {
	Err error
}

// Error returns the claim's failure.
func (e *ClaimError) Error() string { return e.Err.Error() }

// Unwrap returns the claim's failure.
func (e *ClaimError) Unwrap() error { return e.Err }

// Terminal marks err as final: trying the same thing again cannot succeed until someone
// changes something (the configuration, the release, a decision), so a scheduler or an agent
// that retries work must not retry it. The code, message and chain of err are kept, and so
// is its exit status. Terminal(nil) is nil.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err: err}
}

// terminalError is what Terminal wraps an error in.
type terminalError struct{ err error }

func (t *terminalError) Error() string { return t.err.Error() }
func (t *terminalError) Unwrap() error { return t.err }

// IsTerminal reports whether err is final rather than worth retrying (kargo's
// TerminalError, for the same reason: a retry loop needs to know when to stop). An error is
// final when Terminal marked it or anything in its chain, or when its code (the first
// *Error's, as ErrorCode reads it) is one only a person can fix: invalid, not_found or
// unauthorized. Blocked (a gate may open), conflict (a holder may finish), failed (a step may
// pass next time) and internal errors are worth retrying unless marked. Joined errors are
// final only when every one of them is: retrying helps as long as one part may succeed.
func IsTerminal(err error) bool {
	coded := false
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch x := e.(type) {
		case *terminalError:
			return true
		case *Error:
			if !coded {
				coded = true
				if x.Code == EINVALID || x.Code == ENOTFOUND || x.Code == EUNAUTHORIZED {
					return true
				}
			}
		}
		if parts := unwrapAll(e); parts != nil {
			for _, p := range parts {
				if !IsTerminal(p) {
					return false
				}
			}
			return len(parts) > 0
		}
	}
	return false
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
