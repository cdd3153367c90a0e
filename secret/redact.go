package secret

import (
	"io"
	"slices"
	"sync"
)

// Mask is what a redacted secret value is replaced with.
const Mask = "***"

// Redactor is an io.Writer that replaces every occurrence of any secret value with "***"
// before writing to the underlying writer, also when a value is split across Write calls.
//
// Every non-empty value is redacted, however short. That has costs the caller should know:
// a secret such as "1" or "true" masks each such byte or word in the output, and a Write
// that ends with bytes which could begin a secret holds them back (at most the longest
// secret's length minus one) until the next Write or Flush. Where secrets overlap, the
// longest match at a position wins, so "***" never leaves the tail of a longer secret
// visible. The output is exactly what Redact gives for the whole stream.
//
// A Redactor is safe for concurrent use; each Write makes at most one Write to the
// underlying writer, so writes stay whole. After an error from the underlying writer it
// should not be used again.
type Redactor struct {
	mu   sync.Mutex
	w    io.Writer
	m    *matcher
	held []byte // a tail that may begin a secret; shorter than the longest secret
	out  []byte // reused output buffer
}

// NewRedactor returns a Redactor that writes to w with secrets masked.
func NewRedactor(w io.Writer, secrets []string) *Redactor {
	return &Redactor{w: w, m: newMatcher(secrets)}
}

// Write masks secrets in p and writes what is decided to the underlying writer, holding back
// a tail that could begin a secret. It returns len(p) on success.
func (r *Redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m.maxLen == 0 { // no secrets: nothing to mask or hold back
		if _, err := r.w.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	buf := p
	if len(r.held) > 0 {
		buf = append(r.held, p...)
	}
	out, n := r.m.redact(r.out[:0], buf, false)
	// held may share memory with buf: copy the new tail to the front before anything else,
	// and do not keep a large joined buffer alive for a few held bytes.
	if cap(r.held) > 2*r.m.maxLen+64 {
		r.held = append(make([]byte, 0, r.m.maxLen), buf[n:]...)
	} else {
		r.held = append(r.held[:0], buf[n:]...)
	}
	r.out = out[:0]
	if len(out) > 0 {
		if _, err := r.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what Write held back, masking any secret in it, as the end of the stream. The
// Redactor may be used again afterwards, but a secret split across a Flush is not masked:
// flush at the end of a step's output, not in the middle.
func (r *Redactor) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.held) == 0 {
		return nil
	}
	out, _ := r.m.redact(r.out[:0], r.held, true)
	r.held = r.held[:0]
	r.out = out[:0]
	_, err := r.w.Write(out)
	return err
}

// Redact returns s with every secret value replaced by "***" (for errors and stored text).
// Empty values are ignored; overlapping values mask the longest match at each position.
func Redact(s string, secrets []string) string {
	m := newMatcher(secrets)
	if m.maxLen == 0 {
		return s
	}
	out, _ := m.redact(nil, []byte(s), true)
	return string(out)
}

// matcher finds secrets by their first byte; each list is longest first, so the first
// match found at a position is the longest.
type matcher struct {
	byFirst [256][]string
	maxLen  int
}

// noSecrets matches nothing; it is shared, and never changed.
var noSecrets = &matcher{}

func newMatcher(secrets []string) *matcher {
	if !slices.ContainsFunc(secrets, func(s string) bool { return s != "" }) {
		return noSecrets // most steps have no secrets: skip the 6 KiB table
	}
	m := &matcher{}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		c := s[0]
		if !slices.Contains(m.byFirst[c], s) {
			m.byFirst[c] = append(m.byFirst[c], s)
		}
		m.maxLen = max(m.maxLen, len(s))
	}
	for i := range m.byFirst {
		if len(m.byFirst[i]) > 1 {
			slices.SortStableFunc(m.byFirst[i], func(a, b string) int { return len(b) - len(a) })
		}
	}
	return m
}

// redact appends buf with secrets masked to dst and returns it with the number of bytes of
// buf it decided. Unless final, it stops at the first position where the rest of buf is a
// proper prefix of some secret: more input could make a longer match there, so that position
// cannot be decided yet. Deciding each position exactly as the whole input would is what
// makes the streaming output equal to Redact's.
func (m *matcher) redact(dst, buf []byte, final bool) ([]byte, int) {
	plain := 0 // start of the bytes not yet copied to dst
	i := 0
	for i < len(buf) {
		cands := m.byFirst[buf[i]]
		if cands == nil {
			i++
			continue
		}
		rest := buf[i:]
		if !final && len(rest) < m.maxLen {
			for _, s := range cands {
				if len(s) > len(rest) && s[:len(rest)] == string(rest) {
					return append(dst, buf[plain:i]...), i
				}
			}
		}
		matched := 0
		for _, s := range cands {
			if len(s) <= len(rest) && string(rest[:len(s)]) == s {
				matched = len(s)
				break
			}
		}
		if matched == 0 {
			i++
			continue
		}
		dst = append(dst, buf[plain:i]...)
		dst = append(dst, Mask...)
		i += matched
		plain = i
	}
	return append(dst, buf[plain:]...), len(buf)
}
