package storetest

import (
	"sync"
	"time"
)

// Ticking returns a clock for a store under test: it starts at a fixed time and moves one
// millisecond per reading, so "newest first" is never a tie.
func Ticking() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond)
		return t
	}
}
