package layer

import (
	"math"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
)

// fit converts v, the final value of key name, to the schema's type and checks its enum.
// A value that does not fit is a problem naming both the value's source and the schema line.
func (c *ctx) fit(it *item, name string, v any) (any, bool) {
	k, secret := it.key, it.fromSecret
	fv, want := convert(k.Type, v)
	if want != "" {
		c.misfit(it, name, v, "not "+article(k.Type), "wants "+want)
		return v, false
	}
	if len(k.Enum) == 0 {
		return fv, true
	}
	names := make([]string, 0, len(k.Enum))
	for _, e := range k.Enum {
		ev, _ := convert(k.Type, e)
		if same(ev, fv) {
			return fv, true
		}
		names = append(names, format(e))
	}
	hint := ""
	if s, ok := fv.(string); ok && !secret {
		hint = suggest(s, names)
	}
	c.misfit(it, name, v, "not one of "+strings.Join(names, ", "), "lists them"+hint)
	return v, false
}

// misfit records a value that does not fit k: "config PORT is "abc", not an integer: the
// schema of service api (strata.yaml:30:7) wants a whole number such as 8080".
func (c *ctx) misfit(it *item, name string, v any, what, want string) {
	k := it.key
	schema := "the schema of service " + c.sv.svc.Name
	if !k.Pos.IsZero() {
		schema += " (" + k.Pos.String() + ")"
	}
	if it.fromSecret {
		c.fail(strata.Pos{}, c.ev.env.Name, "secret ", name, " is ", what, ": ", schema, " ", want)
		return
	}
	pos := it.pos
	written := ""
	if t := it.trail; len(t) > 0 {
		if raw, ok := t[len(t)-1].Value.V.(string); ok && raw != v {
			written = " (written " + strconv.Quote(raw) + ")"
		}
	}
	c.fail(pos, "", "config ", name, " is ", describe(v), written, ", ", what, ": ", schema, " ", want)
}

// convert returns v as the schema type typ wants it, or what it wants instead. Integers may
// arrive as strings of digits (after interpolation); nothing is converted with loss.
func convert(typ string, v any) (any, string) {
	if i, ok := v.(int); ok {
		v = int64(i)
	}
	switch typ {
	case strata.TypeString:
		switch x := v.(type) {
		case string:
			return v, "" // v, not x: re-boxing x would allocate
		case int64:
			return strconv.FormatInt(x, 10), ""
		case bool:
			return strconv.FormatBool(x), ""
		}
		return v, `text (quote the value, e.g. "1.20", to keep it as written)`
	case strata.TypeInteger:
		switch x := v.(type) {
		case int64:
			return v, ""
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, ""
			}
		}
		return v, "a whole number such as 8080"
	case strata.TypeNumber:
		switch x := v.(type) {
		case float64:
			return v, ""
		case int64:
			return float64(x), ""
		case string:
			if f, err := strconv.ParseFloat(x, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f, ""
			}
		}
		return v, "a number such as 0.5"
	case strata.TypeBoolean:
		switch x := v.(type) {
		case bool:
			return v, ""
		case string:
			if x == "true" || x == "false" {
				return x == "true", ""
			}
		}
		return v, "true or false"
	}
	return v, ""
}

func article(typ string) string {
	switch typ {
	case strata.TypeInteger:
		return "an integer"
	case strata.TypeNumber:
		return "a number"
	case strata.TypeBoolean:
		return "a boolean"
	}
	return "a string"
}

// describe shows a value in a message: strings quoted, the rest as written.
func describe(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return format(v)
}

// same reports whether a and b are the same scalar (and never panics on other types).
func same(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}
