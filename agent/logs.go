package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

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

	mu     sync.Mutex
	queue  []strhttp.LogPiece
	closed bool
	wake   chan struct{} // a piece was queued, or the queue closed
	done   chan struct{}
}

// logQueue bounds the chunks waiting to be sent; beyond it a chunk is dropped, and the drop
// is said in the output.
const logQueue = 4096

// logBatch is the most pieces one request carries.
const logBatch = 64

func newRemoteLogs(ctx context.Context, c *servers, f strhttp.Fenced, lease time.Duration, log *slog.Logger) *remoteLogs {
	l := &remoteLogs{c: c, f: f, lease: lease, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go l.send(ctx)
	return l
}

// AppendLog queues one chunk.
func (l *remoteLogs) AppendLog(_ context.Context, _ string, c strata.LogChunk) error {
	l.mu.Lock()
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
			if strata.ErrorCode(err) == strata.ECONFLICT || final(err) || time.Now().After(deadline) || ctx.Err() != nil {
				l.log.Warn("output not sent", "deployment", l.f.Deployment, "chunks", len(batch), "err", err)
				break
			}
			sleep(ctx, 500*time.Millisecond)
		}
	}
}
