// Package capbuf is a buffer that keeps the first bytes written to it, up to a bound, and
// says whether it cut the rest: for output that is kept (a summary file, a run's output in
// the store) from a command that may print without end.
package capbuf

import "bytes"

// Buffer keeps the first Max bytes written to it; Cut says whether more came. Writes never
// fail, so a writer before it (a tee, a redactor) is never stopped by the bound.
type Buffer struct {
	bytes.Buffer
	Max int
	Cut bool
}

func (c *Buffer) Write(p []byte) (int, error) {
	if room := c.Max - c.Len(); room < len(p) {
		c.Cut = true
		c.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.Buffer.Write(p)
}
