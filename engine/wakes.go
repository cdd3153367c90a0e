package engine

import "sync"

// Wakes tells the parts of one process that wait on agents' work that what they wait for
// may have happened: Pending, that a deployment of a pool became pending (a held claim looks
// again at once); Reported, that an agent reported one (the process that asked for it reads
// its outcome at once). Each waiter still polls the store as well, as the other side may be
// another process: a wake-up only saves the rest of a poll. The zero value is ready.
type Wakes struct {
	Pending, Reported Signal
}

// pending and reported are w's signals, nil for a nil w.
func (w *Wakes) pending() *Signal {
	if w == nil {
		return nil
	}
	return &w.Pending
}

func (w *Wakes) reported() *Signal {
	if w == nil {
		return nil
	}
	return &w.Reported
}

// Signal wakes its waiters of the moment. The zero value is ready; a nil *Signal wakes
// nobody and is never woken.
type Signal struct {
	mu  sync.Mutex
	ch  chan struct{}
	seq uint64
}

// Seq counts the wake-ups so far: a waiter that reads it after Wait knows which one woke it
// (0 for a nil s).
func (s *Signal) Seq() uint64 {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Wait returns a channel that is closed at the next Wake (nil, never closed, for a nil s).
func (s *Signal) Wait() <-chan struct{} {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Wake wakes every waiter of the moment.
func (s *Signal) Wake() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
