package engine

import (
	"sync"
	"time"
)

// progressEvery is how often a running step's progress line repeats, with the time it has
// run, so that a step that prints nothing for minutes still shows that it is alive.
const progressEvery = 5 * time.Second

// progress prints "… WHAT: STEP step running for D" every progressEvery until stop is
// called. It prints nothing when the engine is quiet.
func (e *Engine) progress(what, stepName string) (stop func()) {
	if e.Log == nil {
		return func() {}
	}
	start := time.Now()
	return every(progressEvery, func() bool {
		e.logf("… %s: %s step running for %s", what, stepName, time.Since(start).Round(time.Second))
		return true
	})
}

// every calls fn each period until fn returns false or stop is called; stop waits for a
// call under way, so none runs after it. It waits on a timer, not in a goroutine of its own:
// most deployments' steps end before the first call, and a goroutine apiece (with its
// ticker and wake-ups) was a measurable part of a promotion through hundreds of them.
func every(period time.Duration, fn func() bool) (stop func()) {
	return after(period, func() (time.Duration, bool) { return period, fn() })
}

// after calls fn once first has passed, then again after each wait it returns, until it
// returns false or stop is called; a call in progress ends before stop returns.
func after(first time.Duration, fn func() (wait time.Duration, again bool)) (stop func()) {
	var mu sync.Mutex
	stopped := false
	mu.Lock()
	defer mu.Unlock()
	var t *time.Timer
	t = time.AfterFunc(first, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if wait, again := fn(); again {
			t.Reset(wait)
		} else {
			stopped = true
		}
	})
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
	}
}
