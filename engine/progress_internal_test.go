package engine

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryRepeatsUntilItsFunctionSaysStop(t *testing.T) {
	var calls atomic.Int32
	done := make(chan struct{})
	stop := every(time.Millisecond, func() bool {
		if calls.Add(1) == 3 {
			close(done)
			return false
		}
		return true
	})
	defer stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("called %d times in 5 s, want 3", calls.Load())
	}
	time.Sleep(20 * time.Millisecond)
	if n := calls.Load(); n != 3 {
		t.Fatalf("called %d times, want it to stop after the third", n)
	}
}

func TestEveryStopWaitsForACallUnderWayAndPreventsMore(t *testing.T) {
	var running, calls atomic.Int32
	started := make(chan struct{}, 1)
	stop := every(time.Millisecond, func() bool {
		running.Add(1)
		calls.Add(1)
		select {
		case started <- struct{}{}:
		default:
		}
		time.Sleep(30 * time.Millisecond)
		running.Add(-1)
		return true
	})
	<-started
	stop()
	if running.Load() != 0 {
		t.Fatal("stop returned while a call was under way")
	}
	n := calls.Load()
	time.Sleep(20 * time.Millisecond)
	if calls.Load() != n {
		t.Fatal("a call ran after stop")
	}
}

func TestEveryStoppedAtOnceNeverCalls(t *testing.T) {
	var calls atomic.Int32
	stop := every(10*time.Millisecond, func() bool { calls.Add(1); return true })
	stop()
	time.Sleep(30 * time.Millisecond)
	if calls.Load() != 0 {
		t.Fatalf("called %d times after an immediate stop", calls.Load())
	}
}
