// Package strata holds the nouns of a release and environment orchestrator: the project as
// declared in strata.yaml (environments, services, the pipeline), the records Strata keeps
// (releases, deployments, promotions, audit events), the Store interface that keeps them, and
// the small set of error codes every layer speaks.
//
// It imports only the standard library. Adapters (sqlite, postgres, http) and the pure
// packages (config, layer, plan) build on it; nothing here does I/O.
package strata

import (
	"fmt"
	"time"
)

// Pos is a place in a configuration file. The zero Pos means "not from a file" (a built-in
// default), and prints as the empty string.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String returns "file:line:col", the form editors and terminals turn into links.
func (p Pos) String() string {
	if p.File == "" {
		return ""
	}
	if p.Line == 0 {
		return p.File // a place that is no file's line: "--set by alice at ..."
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// IsZero reports whether p names no place.
func (p Pos) IsZero() bool { return p.File == "" }

// Value is one configuration value and the place it was written. V holds a string, int64,
// float64, bool or nil, as the YAML scalar was typed.
type Value struct {
	V   any `json:"value"`
	Pos Pos `json:"pos"`
}

// Duration is a time.Duration that prints and parses as Go duration text ("30m", "1h30m").
type Duration time.Duration

// String returns the duration as Go prints it, trimmed of zero units ("30m", not "30m0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	for _, suffix := range []string{"m0s", "h0m"} {
		if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
			s = s[:len(s)-len(suffix)+1]
		}
	}
	return s
}

// MarshalText writes the duration as text so JSON output reads "30m" rather than nanoseconds.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses Go duration text.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
