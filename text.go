package strata

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The text rule. What people type (a freeze, reject or override reason; a label value; an
// actor's name) is stored, chained into the audit log, printed on terminals and sent in JSON
// documents. A control character in it breaks one of those: a NUL made the audit log
// unreadable, an escape sequence rewrites a terminal, a bidirectional override makes a line
// read differently from what it holds. So every free-text input is checked here, by the CLI,
// the API and the dashboard alike, before anything is written; a refusal is EINVALID (exit
// status 2, HTTP 400) naming the field and the first offending character.

// CheckText checks free text of several lines, such as a reason: valid UTF-8 without control
// characters, except that tab and newline are allowed, and without the invisible characters
// that reorder how a line is displayed. field names the input as the user gave it
// ("--reason"). It returns nil or an EINVALID *Error.
func CheckText(field, s string) error {
	return checkRunes(field, s, func(r rune) bool {
		return r == '\t' || r == '\n' || !(unicode.IsControl(r) || isBidiControl(r))
	}, "printable text (tabs and newlines are allowed)")
}

// CheckLine checks a one-line value, such as a label value or a principal's name: printable
// characters only (letters, marks, digits, punctuation, symbols and the ASCII space), valid
// UTF-8. field names the input ("--label owner", "--as"). It returns nil or an EINVALID
// *Error.
func CheckLine(field, s string) error {
	return checkRunes(field, s, unicode.IsPrint, "printable characters on one line (no tabs, newlines or other control characters)")
}

// checkRunes returns an EINVALID error naming the first rune of s that ok refuses, or
// the first byte that is not UTF-8.
func checkRunes(field, s string, ok func(rune) bool, want string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return Errorf(EINVALID, "%s: byte %d is 0x%02X, which is not UTF-8; want %s", field, i+1, s[i], want)
			}
		}
		if !ok(r) {
			return Errorf(EINVALID, "%s: character %d is %s; want %s", field, utf8.RuneCountInString(s[:i])+1, describeRune(r), want)
		}
	}
	return nil
}

// isBidiControl reports whether r changes the direction text is displayed in (the "Trojan
// Source" characters): embeddings, overrides, isolates and their ends.
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') || r == '\u200E' || r == '\u200F' || r == '\u061C'
}

// controlNames names the control characters people meet.
var controlNames = map[rune]string{
	0: "NUL", '\a': "BEL", '\b': "backspace", '\t': "tab", '\n': "newline", '\v': "vertical tab",
	'\f': "form feed", '\r': "carriage return", 0x1B: "ESC", 0x7F: "DEL",
}

// describeRune names r for an error message without printing it: "U+001B (ESC, a control
// character)".
func describeRune(r rune) string {
	kind := "an invisible formatting character"
	switch {
	case unicode.IsControl(r):
		kind = "a control character"
	case isBidiControl(r):
		kind = "a character that reverses how text is displayed"
	case unicode.IsSpace(r):
		kind = "a space other than the ASCII space"
	}
	if name, ok := controlNames[r]; ok {
		return fmt.Sprintf("U+%04X (%s, %s)", r, name, kind)
	}
	return fmt.Sprintf("U+%04X (%s)", r, kind)
}

// Printable returns s with every character CheckText refuses, and every byte that is not
// UTF-8, written as a Go escape (\x1b, \u202e), so that text stored before the rule (or by
// an older strata) prints as what it holds and cannot act on a terminal. Text that passes
// CheckText is returned as it is.
func Printable(s string) string {
	if CheckText("", s) == nil {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t' || r == '\n':
			b.WriteRune(r)
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || isBidiControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// eventFields is Event without its JSON methods.
type eventFields Event

// MarshalJSON writes the event as its fields say. An event whose Detail is not valid JSON
// (an older strata wrote a reason with a control character into it by hand) is written
// with "detail" left out and the stored bytes, as a JSON string, in "detail_raw": the
// audit log stays readable as a whole rather than failing every document that holds that
// event. The hash is still over the stored bytes, which `audit --verify` reads from the
// store.
func (e Event) MarshalJSON() ([]byte, error) {
	if len(e.Detail) == 0 || json.Valid(e.Detail) {
		return json.Marshal(eventFields(e))
	}
	raw := string(e.Detail)
	e.Detail = nil
	return json.Marshal(struct {
		eventFields
		DetailRaw string `json:"detail_raw"`
	}{eventFields(e), raw})
}

// UnmarshalJSON reads what MarshalJSON writes: "detail_raw", when present, is the Detail.
func (e *Event) UnmarshalJSON(b []byte) error {
	var v struct {
		eventFields
		DetailRaw *string `json:"detail_raw"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = Event(v.eventFields)
	if v.DetailRaw != nil {
		e.Detail = json.RawMessage(*v.DetailRaw)
	}
	return nil
}

// CutText is s's first n bytes at most, cut on a character's start, so that a cut text is
// still UTF-8 (PostgreSQL's text columns refuse anything else).
func CutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)]
}
