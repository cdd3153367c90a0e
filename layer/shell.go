package layer

import "strings"

// shellLexer follows a step command through /bin/sh's quoting, byte by byte, far enough to
// know how the shell would read text placed at the current point: unquoted, inside single
// or double quotes, in a comment, or in a here-document. It is no parser, and need not be:
// what it decides is only how an interpolation refers to the variable that holds its value,
// and every choice it can make leaves the value out of the text the shell parses. A wrong
// guess can cost the value's exact bytes (a reference that stays literal, or one that is
// field-split), never run it.
type shellLexer struct {
	st   lexState
	esc  bool // the previous byte was a backslash that quotes this one
	word bool // in lexNormal: inside a word, where '#' starts no comment
	lt   int  // '<' seen in a row, in lexNormal
	// arith counts the open parentheses of an arithmetic expansion or command ($((...)),
	// ((...))), where the shell evaluates a variable's value as an expression: bash runs a
	// command substitution in an array index there. 0 outside.
	arith int
	prev  [2]byte // the two bytes before this one, latest last

	// The here-document delimiter being read after "<<".
	delim       strings.Builder
	delimQuoted bool
	delimStrip  bool
	delimQ      byte // the quote the delimiter is inside, or 0
	delimBegun  bool

	// Here-documents announced on the current line; their bodies follow its newline, in
	// order. In lexBody, pending[0] is the one being read.
	pending []hereDoc
	line    strings.Builder // the body line read so far
	lineRef bool            // an interpolation was placed on it (it cannot be the delimiter)
}

type lexState uint8

const (
	lexNormal lexState = iota
	lexSingle
	lexDouble
	lexComment
	lexDelim // reading a here-document's delimiter
	lexBody  // inside a here-document's body
)

type hereDoc struct {
	delim  string
	quoted bool // <<'EOF': the body is literal, nothing in it is expanded
	strip  bool // <<-EOF: leading tabs are stripped
}

// feed advances the lexer over literal command text.
func (l *shellLexer) feed(s string) {
	for i := 0; i < len(s); i++ {
		l.byte(s[i])
	}
}

func (l *shellLexer) byte(c byte) {
	if (l.st == lexNormal || l.st == lexDouble) && !l.esc {
		switch {
		case l.arith > 0 && c == '(':
			l.arith++
		case l.arith > 0 && c == ')':
			l.arith--
		case c == '(' && l.prev[1] == '(' && (l.prev[0] == '$' || l.st == lexNormal):
			l.arith = 2
		}
	}
	l.prev[0], l.prev[1] = l.prev[1], c
	switch l.st {
	case lexNormal:
		l.normal(c)
	case lexSingle:
		if c == '\'' {
			l.st = lexNormal
		}
	case lexDouble:
		switch {
		case l.esc:
			l.esc = false
		case c == '\\':
			l.esc = true
		case c == '"':
			l.st = lexNormal
		}
	case lexComment:
		if c == '\n' {
			l.st = lexNormal
			l.newline()
		}
	case lexDelim:
		l.delimByte(c)
	case lexBody:
		l.bodyByte(c)
	}
}

func (l *shellLexer) normal(c byte) {
	if l.esc {
		l.esc = false
		if c != '\n' { // a backslash-newline joins lines and is no word
			l.word = true
		}
		return
	}
	if l.lt > 0 && c != '<' {
		n := l.lt
		l.lt = 0
		if n == 2 && l.arith == 0 { // "<<" starts a here-document; "<<<" (bash), "<" and a shift do not
			l.st, l.delimQuoted, l.delimQ, l.delimBegun = lexDelim, false, 0, false
			l.delim.Reset()
			l.delimStrip = c == '-'
			if !l.delimStrip {
				l.delimByte(c)
			}
			return
		}
	}
	switch c {
	case '\\':
		l.esc, l.word = true, true
	case '\'':
		l.st, l.word = lexSingle, true
	case '"':
		l.st, l.word = lexDouble, true
	case '#':
		if !l.word {
			l.st = lexComment
		}
	case '\n':
		l.word = false
		l.newline()
	case '<':
		l.lt++
		l.word = false
	case ' ', '\t', ';', '&', '|', '(', ')', '>':
		l.word = false
	default:
		l.word = true
	}
}

// newline ends a line outside quotes: the bodies of the here-documents it announced start.
func (l *shellLexer) newline() {
	if len(l.pending) > 0 {
		l.st = lexBody
		l.line.Reset()
		l.lineRef = false
	}
}

func (l *shellLexer) delimByte(c byte) {
	switch {
	case l.delimQ != 0:
		if c == l.delimQ {
			l.delimQ = 0
		} else {
			l.delim.WriteByte(c)
		}
		return
	case l.esc:
		l.esc = false
		l.delim.WriteByte(c)
		return
	case !l.delimBegun && (c == ' ' || c == '\t'):
		return
	}
	switch c {
	case '\\':
		l.delimQuoted, l.esc, l.delimBegun = true, true, true
	case '\'', '"':
		l.delimQuoted, l.delimQ, l.delimBegun = true, c, true
	case ' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>':
		if l.delimBegun {
			l.pending = append(l.pending, hereDoc{delim: l.delim.String(), quoted: l.delimQuoted, strip: l.delimStrip})
		}
		l.st, l.word = lexNormal, false
		l.normal(c)
	default:
		l.delim.WriteByte(c)
		l.delimBegun = true
	}
}

func (l *shellLexer) bodyByte(c byte) {
	if c != '\n' {
		l.line.WriteByte(c)
		return
	}
	h := l.pending[0]
	line := l.line.String()
	if h.strip {
		line = strings.TrimLeft(line, "\t")
	}
	l.line.Reset()
	ended := !l.lineRef && line == h.delim
	l.lineRef = false
	if ended {
		l.pending = l.pending[1:]
		if len(l.pending) == 0 {
			l.st, l.word = lexNormal, false
		}
	}
}

// reference returns how to refer to the variable name at the current point so that the
// shell reads its value as the text there, or "" and a reason when no reference can, and
// whether the shell evaluates the value as arithmetic there. The lexer then moves past it.
func (l *shellLexer) reference(name string) (text, why string, arith bool) {
	ref := "${" + name + "}"
	l.prev = [2]byte{'}', '}'}
	arith = l.arith > 0
	switch l.st {
	case lexSingle:
		// Close the quotes, expand inside double quotes (one word, no splitting), reopen.
		return `'"` + ref + `"'`, "", false
	case lexDelim:
		return "", "an interpolation cannot be part of a here-document's delimiter; write the delimiter out", false
	case lexBody:
		if l.pending[0].quoted {
			return "", "the shell expands nothing in a here-document whose delimiter is quoted (<<'" +
				l.pending[0].delim + "'), so an interpolation there would stay as written; leave the delimiter unquoted", false
		}
		l.lineRef = true
		l.line.WriteString(ref)
		return ref, "", false
	case lexNormal:
		if l.lt == 2 {
			return "", "an interpolation cannot be a here-document's delimiter; write the delimiter out", false
		}
		l.esc, l.lt = false, 0
		l.word = true
	}
	return ref, "", arith
}
