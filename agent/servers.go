package agent

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	strhttp "github.com/strata-dev/strata/http"
)

// servers are the servers an agent may talk to, all of them on one store: a claim, its
// lease, its fence and its outcome live in the store, and every request is a compare-and-set
// there, so any of them may carry any request. A request goes to the current server; when
// it gets no answer (the server died, or the way to it is cut) the next server in the list
// becomes the current one. A refusal (a conflict, a token that does not cover the pool) is
// the store's word, the same from every server, and is not tried elsewhere.
type servers struct {
	list []*strhttp.Client
	cur  atomic.Int64
	log  *slog.Logger
}

// current returns the index and client of the current server.
func (s *servers) current() (int64, *strhttp.Client) {
	i := s.cur.Load() % int64(len(s.list))
	return i, s.list[i]
}

// failed moves on from server i when it is still the current one (of several requests that
// found it gone at once, the first moves on), and says so once.
func (s *servers) failed(i int64, err error) {
	if len(s.list) < 2 {
		return
	}
	next := (i + 1) % int64(len(s.list))
	if s.cur.CompareAndSwap(i, next) {
		s.log.Warn("server out of reach; going on with the next", "from", s.list[i].URL, "to", s.list[next].URL, "err", err)
	}
}

// noAnswer reports whether a request sent under actx, a part of ctx, got no answer: the
// server could not be reached, or actx ran out while ctx did not (a link that drops
// packets silently answers nothing until then).
func noAnswer(ctx, actx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && (strhttp.Unreachable(err) || actx.Err() != nil)
}

// once sends one request, under actx (a part of ctx), to the current server; when it gets no
// answer the next one becomes current, for the caller's next try. It is for a request that
// may be held for long (a claim's long-poll), whose time must not be shared out.
func (s *servers) once(ctx, actx context.Context, fn func(ctx context.Context, c *strhttp.Client) error) error {
	i, c := s.current()
	err := fn(actx, c)
	if noAnswer(ctx, actx, err) {
		s.failed(i, err)
	}
	return err
}

// each sends one request to the current server and, while none answers, to each other in
// turn, sharing out ctx's time among those left: a renewal whose server died is made
// through another before the lease runs short. It returns the first answer (an error with
// the server's code is an answer) or the last server's failure.
func (s *servers) each(ctx context.Context, fn func(ctx context.Context, c *strhttp.Client) error) error {
	var err error
	for n := len(s.list); n > 0; n-- {
		i, c := s.current()
		actx, cancel := ctx, context.CancelFunc(func() {})
		if d, ok := ctx.Deadline(); ok && n > 1 {
			actx, cancel = context.WithTimeout(ctx, time.Until(d)/time.Duration(n))
		}
		err = fn(actx, c)
		gone := noAnswer(ctx, actx, err)
		cancel()
		if !gone {
			return err
		}
		s.failed(i, err)
	}
	return err
}
