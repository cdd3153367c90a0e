package agent

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/strata-dev/strata"
)

// TestTheLogQueueKeepsOrderBatchesAndItsBound fills a claim's log queue past its bound and
// drains it as the sender does.
func TestTheLogQueueKeepsOrderBatchesAndItsBound(t *testing.T) {
	l := &remoteLogs{log: slog.New(slog.NewTextHandler(io.Discard, nil)), wake: make(chan struct{}, 1), done: make(chan struct{})}
	ctx := context.Background()
	for i := range logQueue {
		if err := l.AppendLog(ctx, "", strata.LogChunk{Step: "deploy", Data: strconv.Itoa(i)}); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	t.Run("a chunk beyond the bound is refused", func(t *testing.T) {
		if err := l.AppendLog(ctx, "", strata.LogChunk{Data: "one too many"}); strata.ErrorCode(err) != strata.EINTERNAL {
			t.Errorf("AppendLog = %v, want EINTERNAL", err)
		}
	})
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	t.Run("the queue drains in order, in batches, then ends", func(t *testing.T) {
		n := 0
		for {
			batch, ok := l.next(ctx)
			if !ok {
				break
			}
			if len(batch) == 0 || len(batch) > logBatch {
				t.Fatalf("a batch of %d pieces, want 1 to %d", len(batch), logBatch)
			}
			for _, p := range batch {
				if p.Data != strconv.Itoa(n) {
					t.Fatalf("piece %d is %q", n, p.Data)
				}
				n++
			}
		}
		if n != logQueue {
			t.Errorf("%d pieces drained, want %d", n, logQueue)
		}
	})
}
