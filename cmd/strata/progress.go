package main

import (
	"io"
	"os"
	"sync"
	"time"
)

// progressEvery is how long progress lines wait to be written when stderr is not a
// terminal.
const progressEvery = 100 * time.Millisecond

// progress returns where the engine's progress lines go. On a terminal they are written as
// they come. Elsewhere (a CI log, a pipe) they are written in batches, at least every
// progressEvery and whenever the command ends: a promotion through hundreds of environments
// writes two lines for each, and a write apiece cost as much as a tenth of its own work.
func (a *app) progress() io.Writer {
	if f, ok := a.stderr.(*os.File); ok && isTerminal(f) {
		return a.stderr
	}
	if a.batched == nil {
		a.batched = &batchedWriter{w: a.stderr}
	}
	return a.batched
}

// flushProgress writes the progress lines still held back.
func (a *app) flushProgress() {
	if a.batched != nil {
		a.batched.Flush()
	}
}

// batchedWriter holds writes back for up to progressEvery, or until it holds 64 KiB.
type batchedWriter struct {
	w     io.Writer
	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
}

func (b *batchedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	switch {
	case len(b.buf) >= 64<<10:
		b.flushLocked()
	case b.timer == nil:
		b.timer = time.AfterFunc(progressEvery, b.Flush)
	}
	return len(p), nil
}

// Flush writes what is held back now.
func (b *batchedWriter) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *batchedWriter) flushLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.buf) > 0 {
		b.w.Write(b.buf)
		b.buf = b.buf[:0]
	}
}
