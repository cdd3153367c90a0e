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
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				e.logf("… %s: %s step running for %s", what, stepName, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
