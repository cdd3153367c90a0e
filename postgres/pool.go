package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pool is a small pool of connections. (pgxpool needs a module this build does not have.)
// At most size connections are open; a caller waits for a free one.
type pool struct {
	cfg   *pgx.ConnConfig
	slots chan struct{} // one token per connection in use

	mu     sync.Mutex
	idle   []idleConn
	closed bool
}

// idleConn is a connection waiting in the pool and since when.
type idleConn struct {
	c     *pgx.Conn
	since time.Time
}

// checkAfter is how long a connection may sit idle before it is pinged on reuse: a
// server restart or a network change may have cut it meanwhile.
const checkAfter = 30 * time.Second

var errClosed = errors.New("the store is closed")

func newPool(cfg *pgx.ConnConfig, size int) *pool {
	return &pool{cfg: cfg, slots: make(chan struct{}, size)}
}

// acquire returns a connection for the caller's sole use until release.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.slots
			return nil, errClosed
		}
		var ic idleConn
		if n := len(p.idle); n > 0 {
			ic, p.idle = p.idle[n-1], p.idle[:n-1]
		}
		p.mu.Unlock()
		if ic.c == nil {
			break
		}
		if time.Since(ic.since) < checkAfter || ic.c.Ping(ctx) == nil {
			return ic.c, nil
		}
		ic.c.Close(context.Background())
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// release gives c back. A connection that broke or was left inside a transaction is
// closed rather than reused.
func (p *pool) release(c *pgx.Conn) {
	defer func() { <-p.slots }()
	p.mu.Lock()
	reuse := !p.closed && !c.IsClosed() && c.PgConn().TxStatus() == 'I'
	if reuse {
		p.idle = append(p.idle, idleConn{c: c, since: time.Now()})
	}
	p.mu.Unlock()
	if !reuse {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(ctx)
	}
}

// close closes the idle connections; those in use are closed when they are released.
func (p *pool) close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, ic := range idle {
		errs = append(errs, ic.c.Close(ctx))
	}
	return errors.Join(errs...)
}
