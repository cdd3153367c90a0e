package strata_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/strata-dev/strata"
)

func TestErrorfWithWKeepsTheWrappedErrorAndReadsAsWithV(t *testing.T) {
	cause := strata.Errorf(strata.ENOTFOUND, "unknown release api@9")
	tests := []struct {
		name     string
		err      error
		text     string
		code     string
		isCause  bool
		isNotExt bool
	}{
		{"a %w of a coded error keeps the outer code and finds the cause", strata.Errorf(strata.EFAILED, "promote: %w", cause), "promote: unknown release api@9", strata.EFAILED, true, false},
		{"a %w of a sentinel is found by errors.Is", strata.Errorf(strata.EINVALID, "read %s: %w", "x.yaml", fs.ErrNotExist), "read x.yaml: file does not exist", strata.EINVALID, false, true},
		{"two %w verbs keep both", strata.Errorf(strata.EFAILED, "%w; %w", cause, fs.ErrNotExist), "unknown release api@9; file does not exist", strata.EFAILED, true, true},
		{"a %v wraps nothing", strata.Errorf(strata.EFAILED, "promote: %v", cause), "promote: unknown release api@9", strata.EFAILED, false, false},
		{"a message without verbs wraps nothing", strata.Errorf(strata.EBLOCKED, "frozen"), "frozen", strata.EBLOCKED, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := tc.err.Error(), tc.text; got != want {
				t.Errorf("text: got %q, want %q", got, want)
			}
			if got, want := strata.ErrorCode(tc.err), tc.code; got != want {
				t.Errorf("code: got %q, want %q", got, want)
			}
			if got, want := errors.Is(tc.err, cause), tc.isCause; got != want {
				t.Errorf("errors.Is(cause): got %v, want %v", got, want)
			}
			if got, want := errors.Is(tc.err, fs.ErrNotExist), tc.isNotExt; got != want {
				t.Errorf("errors.Is(fs.ErrNotExist): got %v, want %v", got, want)
			}
		})
	}
}

func TestIsTerminalTellsFinalFailuresFromOnesWorthRetrying(t *testing.T) {
	failed := strata.Errorf(strata.EFAILED, "deploy step exited with status 1")
	invalid := strata.Errorf(strata.EINVALID, "strata.yaml:3:5: unknown key")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no error is not final", nil, false},
		{"an uncoded error is worth retrying", errors.New("connection reset"), false},
		{"bad input is final", invalid, true},
		{"an unknown name is final", strata.Errorf(strata.ENOTFOUND, "unknown service"), true},
		{"a refused token is final", strata.Errorf(strata.EUNAUTHORIZED, "bad token"), true},
		{"a closed gate is worth retrying", strata.Errorf(strata.EBLOCKED, "outside the window"), false},
		{"a held environment is worth retrying", strata.Errorf(strata.ECONFLICT, "held by d-1"), false},
		{"a failed step is worth retrying", failed, false},
		{"an internal error is worth retrying", strata.Errorf(strata.EINTERNAL, "database is locked"), false},
		{"a failure marked terminal is final", strata.Terminal(failed), true},
		{"a marked failure stays final when wrapped", fmt.Errorf("promote: %w", strata.Terminal(failed)), true},
		{"a marked failure stays final inside a coded error", strata.Errorf(strata.EFAILED, "wave 2: %w", strata.Terminal(failed)), true},
		{"the first code decides: a failure caused by bad input is retried", strata.Errorf(strata.EFAILED, "deploy: %w", invalid), false},
		{"a wrapped final code is final", fmt.Errorf("deploy: %w", invalid), true},
		{"joined errors that are all final are final", errors.Join(invalid, strata.Terminal(failed)), true},
		{"joined errors with one worth retrying are worth retrying", errors.Join(invalid, failed), false},
		{"a coded error holding joined final ones is final", &strata.Error{Code: strata.EFAILED, Err: errors.Join(strata.Terminal(failed), strata.Terminal(failed))}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strata.IsTerminal(tc.err); got != tc.want {
				t.Errorf("IsTerminal(%v): got %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestTerminalKeepsTheCodeTextAndExitStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
		exit int
	}{
		{"a failure", strata.Errorf(strata.EFAILED, "step failed"), strata.EFAILED, 1},
		{"bad input", strata.Errorf(strata.EINVALID, "bad flag"), strata.EINVALID, 2},
		{"a closed gate", strata.Errorf(strata.EBLOCKED, "frozen"), strata.EBLOCKED, 3},
		{"a refusal", strata.Errorf(strata.EUNAUTHORIZED, "no token"), strata.EUNAUTHORIZED, 4},
		{"an uncoded error", errors.New("boom"), strata.EINTERNAL, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			marked := strata.Terminal(tc.err)
			if got, want := marked.Error(), tc.err.Error(); got != want {
				t.Errorf("text: got %q, want %q", got, want)
			}
			if got, want := strata.ErrorCode(marked), tc.code; got != want {
				t.Errorf("code: got %q, want %q", got, want)
			}
			if got, want := strata.ExitStatus(marked), tc.exit; got != want {
				t.Errorf("exit status: got %d, want %d", got, want)
			}
			if !errors.Is(marked, tc.err) {
				t.Error("the marked error no longer finds the original")
			}
		})
	}
	if strata.Terminal(nil) != nil {
		t.Error("Terminal(nil) is not nil")
	}
}

func TestJoinedErrorsKeepTheirCodes(t *testing.T) {
	blocked := strata.Errorf(strata.EBLOCKED, "frozen")
	failed := strata.Errorf(strata.EFAILED, "deploy failed")
	joined := errors.Join(failed, blocked)
	if got, want := strata.ErrorCode(joined), strata.EFAILED; got != want {
		t.Errorf("code of the join: got %q, want %q (the first one's)", got, want)
	}
	var e *strata.Error
	if !errors.As(errors.Join(errors.New("plain"), blocked), &e) || e.Code != strata.EBLOCKED {
		t.Errorf("errors.As found %v, want the blocked error behind a plain one", e)
	}
}
