package main

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/syncbuf"
)

func TestProgressLinesHeldBackAreWrittenSoonAndInOrder(t *testing.T) {
	t.Parallel()
	var out syncbuf.Buffer
	b := &batchedWriter{w: &out}
	b.Write([]byte("▸ one\n"))
	b.Write([]byte("✓ one\n"))
	if got := out.String(); got != "" {
		t.Fatalf("written at once: %q; want the lines held back", got)
	}
	// Soon is progressEvery; a minute bounds a hung test on a machine too busy for soon.
	deadline := time.Now().Add(time.Minute)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(progressEvery / 4)
	}
	if got := out.String(); got != "▸ one\n✓ one\n" {
		t.Fatalf("after a while: %q; want both lines, in order", got)
	}
	b.Write([]byte("▸ two\n"))
	b.Flush()
	if got := out.String(); !strings.HasSuffix(got, "✓ one\n▸ two\n") {
		t.Fatalf("after Flush: %q; want the third line too", got)
	}
}

func TestALargeBatchIsWrittenWithoutWaiting(t *testing.T) {
	t.Parallel()
	var out syncbuf.Buffer
	b := &batchedWriter{w: &out}
	line := strings.Repeat("x", 1023) + "\n"
	for range 64 {
		b.Write([]byte(line))
	}
	if got := len(out.String()); got != 64*1024 {
		t.Fatalf("%d bytes written at once, want the 64 KiB held", got)
	}
}
