package engine

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/secret"
)

// output is where one step's output goes: redacted, then to the terminal (each line
// prefixed with service/environment) and, for deployments, to the store in chunks.
type output struct {
	redactor *secret.Redactor
}

func (o *output) Write(p []byte) (int, error) { return o.redactor.Write(p) }

// Flush writes what the redactor held back and the last stored chunk.
func (o *output) Flush() error { return o.redactor.Flush() }

// stepOutput builds the writer for one step. sink, when not nil, stores the output.
func (e *Engine) stepOutput(prefix, stepName string, sink *logSink, secrets ...string) *output {
	var ws []io.Writer
	if e.Log != nil {
		ws = append(ws, &linePrefixer{e: e, prefix: "  " + prefix + " | "})
	}
	if sink != nil {
		sink.step = stepName
		ws = append(ws, sink)
	}
	return &output{redactor: secret.NewRedactor(io.MultiWriter(ws...), secrets)}
}

// linePrefixer writes whole lines to the engine's log, each with a prefix, so the output of
// parallel deployments does not interleave mid-line.
type linePrefixer struct {
	e      *Engine
	prefix string
	buf    []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.e.logf("%s%s", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 4096 {
		l.e.logf("%s%s", l.prefix, l.buf)
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

// logSink batches a deployment's output into store chunks: at most one write every
// flushEvery, and always at Close, so a chatty step does not cost a transaction per line.
type logSink struct {
	ctx     context.Context
	store   strata.LogStore
	id      string
	attempt int
	step    string

	mu    sync.Mutex
	buf   []byte
	last  time.Time
	timer *time.Timer
}

const flushEvery = 250 * time.Millisecond

func newLogSink(ctx context.Context, s strata.LogStore, id string, attempt int) *logSink {
	return &logSink{ctx: context.WithoutCancel(ctx), store: s, id: id, attempt: attempt}
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	if time.Since(s.last) >= flushEvery || len(s.buf) > 64<<10 {
		s.flushLocked()
	} else if s.timer == nil {
		s.timer = time.AfterFunc(flushEvery, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.timer = nil
			s.flushLocked()
		})
	}
	return len(p), nil
}

func (s *logSink) flushLocked() {
	s.last = time.Now()
	if len(s.buf) == 0 {
		return
	}
	data := string(s.buf)
	s.buf = s.buf[:0]
	_ = s.store.AppendLog(s.ctx, s.id, strata.LogChunk{Attempt: s.attempt, Step: s.step, At: time.Now().UTC(), Data: data})
}

// note stores a line of Strata's own (a health result, a rollback) among the step output.
func (s *logSink) note(step, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	s.step = step
	s.buf = append(s.buf, line...)
	s.buf = append(s.buf, '\n')
	s.flushLocked()
}

// Close stores what is left.
func (s *logSink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.flushLocked()
}
