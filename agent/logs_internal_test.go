package agent

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

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

// TestARunsLiveOutputIsQueuedAsWholeTextUpToTheCap writes a run's output as the redactor
// would, in writes that cut characters, and reads the queued pieces.
func TestARunsLiveOutputIsQueuedAsWholeTextUpToTheCap(t *testing.T) {
	drain := func(l *remoteLogs) string {
		l.mu.Lock()
		defer l.mu.Unlock()
		s := ""
		for _, p := range l.queue {
			if !utf8.ValidString(p.Data) {
				t.Errorf("piece %q is not whole text", p.Data)
			}
			s += p.Data
		}
		l.queue = nil
		return s
	}
	newLogs := func() *remoteLogs {
		return &remoteLogs{log: slog.New(slog.NewTextHandler(io.Discard, nil)), wake: make(chan struct{}, 1), done: make(chan struct{})}
	}
	t.Run("a character cut between two writes is sent whole with the second", func(t *testing.T) {
		l := newLogs()
		w := &liveOutput{ctx: context.Background(), logs: l, step: "run migrate"}
		text := []byte("migré 1/3 ✓\n")
		for i := range text {
			if n, err := w.Write(text[i : i+1]); n != 1 || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if got := drain(l); got != string(text) {
			t.Errorf("queued %q, want %q", got, text)
		}
	})
	t.Run("nothing past the cap is queued, and the command's writes still succeed", func(t *testing.T) {
		l := newLogs()
		w := &liveOutput{ctx: context.Background(), logs: l, step: "run migrate"}
		chunk := strings.Repeat("x", 64<<10)
		for range 8 {
			if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			drain(l)
		}
		if w.sent != strata.RunOutputCap {
			t.Errorf("sent %d bytes, want the cap, %d", w.sent, strata.RunOutputCap)
		}
	})
}

func TestARunsLiveOutputStopsAtTheFirstPieceAFullQueueRefuses(t *testing.T) {
	l := &remoteLogs{log: slog.New(slog.NewTextHandler(io.Discard, nil)), wake: make(chan struct{}, 1), done: make(chan struct{})}
	w := &liveOutput{ctx: context.Background(), logs: l, step: "run migrate"}
	for i := range logQueue + 2 {
		w.Write([]byte(strconv.Itoa(i) + "\n"))
	}
	l.mu.Lock()
	n := len(l.queue)
	l.queue = nil
	l.mu.Unlock()
	w.Write([]byte("after the gap\n"))
	if n != logQueue || len(l.queue) != 0 {
		t.Errorf("queued %d pieces, then %d after a refusal; want %d, then none (no gap in the output so far)", n, len(l.queue), logQueue)
	}
}
