package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/strata-dev/strata"
	strhttp "github.com/strata-dev/strata/http"
)

// remoteLogs is the LogStore of a claimed deployment: chunks go to the server with the
// claim's fence, in order, from a queue, so that a step's output never waits on the network
// (a cut shorter than the lease delays the chunks; it does not stall the step). They were
// redacted on this host (the engine's step output) before they get here. The queue grows
// with what waits in it: a channel of logQueue pieces cost every deployment 230 KB to
// allocate and clear, most of an agent's garbage when its steps print little.
type remoteLogs struct {
	c     *servers
	f     strhttp.Fenced
	lease time.Duration
	log   *slog.Logger
	// older, when not nil, reads a refusal as an older server's that takes no such output
	// (asks.older): the queue is then dropped and nothing more is sent.
	older func(error) bool

	mu     sync.Mutex
	queue  []strhttp.LogPiece
	closed bool
	off    bool          // the server refused such output: drop it
	wake   chan struct{} // a piece was queued, or the queue closed
	done   chan struct{}
}

// logQueue bounds the chunks waiting to be sent; beyond it a chunk is dropped, and the drop
// is said in the output.
const logQueue = 4096

// logBatch is the most pieces one request carries.
const logBatch = 64

func newRemoteLogs(ctx context.Context, c *servers, f strhttp.Fenced, lease time.Duration, log *slog.Logger, older func(error) bool) *remoteLogs {
	l := &remoteLogs{c: c, f: f, lease: lease, log: log, older: older, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go l.send(ctx)
	return l
}

// AppendLog queues one chunk.
func (l *remoteLogs) AppendLog(_ context.Context, _ string, c strata.LogChunk) error {
	l.mu.Lock()
	if l.off {
		l.mu.Unlock()
		return nil
	}
	full := len(l.queue) >= logQueue
	if !full {
		l.queue = append(l.queue, strhttp.LogPiece{Step: c.Step, At: c.At, Data: c.Data})
	}
	l.mu.Unlock()
	if full {
		l.log.Warn("log queue full: a chunk of output was dropped", "deployment", l.f.Deployment)
		return strata.Errorf(strata.EINTERNAL, "the agent's log queue is full")
	}
	l.poke()
	return nil
}

func (l *remoteLogs) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Logs is not read on an agent.
func (l *remoteLogs) Logs(context.Context, string, int64) ([]strata.LogChunk, error) {
	return nil, strata.Errorf(strata.EINVALID, "an agent does not read logs back")
}

// close stops taking chunks and waits until the queued ones are sent (or given up), or ctx
// ends.
func (l *remoteLogs) close(ctx context.Context) {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.poke()
	select {
	case <-l.done:
	case <-ctx.Done():
	}
}

// next takes the next batch off the queue, waiting for one; ok is false once the queue is
// closed and empty, or ctx ended.
func (l *remoteLogs) next(ctx context.Context) (batch []strhttp.LogPiece, ok bool) {
	for {
		l.mu.Lock()
		n := min(len(l.queue), logBatch)
		if n > 0 {
			batch = append(batch, l.queue[:n]...)
			l.queue = l.queue[n:]
			if len(l.queue) == 0 {
				l.queue = nil
			}
		}
		closed := l.closed
		l.mu.Unlock()
		if n > 0 {
			return batch, true
		}
		if closed {
			return nil, false
		}
		select {
		case <-l.wake:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// send sends the queue in batches, each tried again until it is taken, refused (an old
// fence: nobody wants it), or has failed for a whole lease.
func (l *remoteLogs) send(ctx context.Context) {
	defer close(l.done)
	for {
		batch, ok := l.next(ctx)
		if !ok {
			return
		}
		msg := strhttp.AgentLogs{Name: l.f.Name, Pool: l.f.Pool, Deployment: l.f.Deployment, Fence: l.f.Fence, Chunks: batch}
		deadline := time.Now().Add(l.lease)
		for {
			rctx, done := context.WithTimeout(ctx, l.lease/3)
			err := l.c.each(rctx, func(ctx context.Context, s *strhttp.Client) error { return s.SendLogs(ctx, msg) })
			done()
			if err == nil {
				break
			}
			if l.older != nil && l.older(err) {
				l.mu.Lock()
				l.off, l.queue = true, nil
				l.mu.Unlock()
				return
			}
			if strata.ErrorCode(err) == strata.ECONFLICT || final(err) || time.Now().After(deadline) || ctx.Err() != nil {
				l.log.Warn("output not sent", "deployment", l.f.Deployment, "chunks", len(batch), "err", err)
				break
			}
			sleep(ctx, 500*time.Millisecond)
		}
	}
}

// liveOutput is the writer a claimed run's output goes to while it runs (RunTaskJob's
// live): each write, redacted on this host already, is queued as a piece for the server
// (remoteLogs), never waiting on the network and never failing the command. It sends the
// first strata.RunOutputCap bytes (the server keeps no more), none after a piece the queue
// refused, and holds back a character cut between two writes, so that each piece is whole
// text.
type liveOutput struct {
	ctx   context.Context
	logs  *remoteLogs
	step  string
	sent  int
	carry []byte
}

func (w *liveOutput) Write(p []byte) (int, error) {
	if w.sent >= strata.RunOutputCap {
		return len(p), nil
	}
	b := append(w.carry, p...)
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	w.carry = append([]byte(nil), b[cut:]...)
	if cut > 0 {
		w.sent += cut
		if err := w.logs.AppendLog(w.ctx, "", strata.LogChunk{Step: w.step, At: time.Now(), Data: string(b[:cut])}); err != nil {
			// The queue is full (the server is slow): stop rather than leave a gap in the
			// output so far. The report carries the whole.
			w.sent = strata.RunOutputCap
		}
	}
	return len(p), nil
}
