package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata"
)

// Dash returns s, or "-" when it is empty (a table cell with nothing in it).
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// FormatValue prints a configuration value as it would be written in an environment
// variable (nil prints as nothing).
func FormatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// FormatLabels prints labels as k=v pairs in key order.
func FormatLabels(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// FormatPolicy prints a policy as "approvals=N soak=D window=SPEC".
func FormatPolicy(p strata.Policy) string {
	var parts []string
	if p.Approvals != nil {
		parts = append(parts, fmt.Sprintf("approvals=%d", *p.Approvals))
	}
	if p.Soak != nil {
		parts = append(parts, "soak="+p.Soak.String())
	}
	for _, w := range p.Windows {
		parts = append(parts, "window="+w.Spec)
	}
	return strings.Join(parts, " ")
}

// Age prints how long ago t was, coarsely ("-" for the zero time).
func Age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	case d < 48*time.Hour:
		return d.Round(time.Hour).String()
	default:
		return (d / (24 * time.Hour) * (24 * time.Hour)).String()
	}
}

// Until says how long from now to t, coarsely ("23h", "5m", "40s").
func Until(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d >= time.Hour:
		d = d.Round(time.Hour)
	case d >= time.Minute:
		d = d.Round(time.Minute)
	default:
		d = d.Round(time.Second)
	}
	return strata.Duration(d).String()
}

// Expiry says when a short-lived environment expires, for people.
func Expiry(now, t time.Time) string {
	switch {
	case t.IsZero():
		return "no expiry"
	case !now.Before(t):
		return "expired at " + t.UTC().Format(time.RFC3339) + " (`strata resume` destroys it)"
	default:
		return "expires " + t.UTC().Format(time.RFC3339) + " (in " + Until(now, t) + ")"
	}
}

// ShortExpiry says when a short-lived environment expires, for a table cell.
func ShortExpiry(now, t time.Time) string {
	if !now.Before(t) {
		return "expired " + t.UTC().Format("2006-01-02 15:04Z")
	}
	return t.UTC().Format("2006-01-02 15:04Z") + " (in " + Until(now, t) + ")"
}

// EnvExpiry marks a short-lived environment in the status matrix.
func EnvExpiry(now, t time.Time) string {
	switch {
	case t.IsZero():
		return "short-lived"
	case !now.Before(t):
		return "expired"
	default:
		return "expires in " + Until(now, t)
	}
}

// waves prints waves as "[a, b] then [c]".
func waves(ws [][]string) string {
	var parts []string
	for _, wv := range ws {
		parts = append(parts, "["+strings.Join(wv, ", ")+"]")
	}
	return strings.Join(parts, " then ")
}
