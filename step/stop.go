package step

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	strata "github.com/strata-dev/strata"
)

// stopper kills a step's process group when its timeout elapses or its context is done.
// Run blocks in wait4 on the shell rather than in a select, so the kill comes from a timer
// or context callback; the shell dying of it is what wakes Run. A step that ends by itself
// costs no goroutine for this, only the callbacks' registration.
type stopper struct {
	state atomic.Int32 // armed, then disarmed by Run or fired by one callback

	// done is closed when a callback has killed the group; timedOut and err are set then.
	done     chan struct{}
	timedOut bool
	err      error

	timer  *time.Timer
	unhook func() bool
}

const (
	armed int32 = iota
	disarmed
	fired
)

// arm starts watching s.Timeout (counted from start) and ctx for the step whose shell
// leads group pgid.
func arm(ctx context.Context, s Spec, start time.Time, pgid int, grace time.Duration, name string) *stopper {
	st := &stopper{done: make(chan struct{})}
	if s.Timeout > 0 {
		st.timer = time.AfterFunc(s.Timeout-time.Since(start), func() {
			st.fire(true, pgid, grace, name, func() error {
				return strata.Errorf(strata.EFAILED, "%s step timed out after %s; its process group was killed", name, strata.Duration(s.Timeout))
			})
		})
	}
	if ctx.Done() != nil {
		st.unhook = context.AfterFunc(ctx, func() {
			st.fire(false, pgid, grace, name, func() error {
				return &strata.Error{Code: strata.EFAILED, Message: fmt.Sprintf("%s step was cancelled; its process group was killed", name), Err: context.Cause(ctx)}
			})
		})
	}
	return st
}

// fire stops the group unless Run disarmed the stopper or the other callback fired first.
func (st *stopper) fire(timedOut bool, pgid int, grace time.Duration, name string, reason func() error) {
	if !st.state.CompareAndSwap(armed, fired) {
		return
	}
	st.timedOut = timedOut
	st.err = reason()
	if err := KillGroup(pgid, grace); err != nil {
		st.err = errors.Join(st.err, fmt.Errorf("stop %s step: %w", name, err))
	}
	close(st.done)
}

// disarm stops the callbacks once the shell has exited. It returns false when one of them
// fired first: the step was stopped, and Run waits for done to learn why.
func (st *stopper) disarm() bool {
	if st.timer != nil {
		st.timer.Stop()
	}
	if st.unhook != nil {
		st.unhook()
	}
	return st.state.CompareAndSwap(armed, disarmed)
}
