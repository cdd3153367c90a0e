package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// counter sits between strata and the PostgreSQL server and counts what a promotion costs
// the server: round trips (each time the client speaks after the server has, or first, on
// one connection), connections, and the CPU time of the server processes that served them
// (read from /proc when the server runs on this machine, else left at zero). The hop adds
// to every round trip, so promotions measured through it are not timed.
type counter struct {
	ln     net.Listener
	target string // host:port of the server
	server string // the server's URL, to find the process that serves a connection
	trips  atomic.Int64
	conns  atomic.Int64
	cpu    atomic.Int64 // nanoseconds
	wg     sync.WaitGroup
}

// newCounter listens on a free local port and forwards to the server of the URL base.
func newCounter(base string) (*counter, error) {
	u, err := url.Parse(base)
	if err != nil {
		// Not err itself, which quotes the URL and its password.
		return nil, errors.New("-postgres is not a URL (postgres://user@host:port/db)")
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &counter{ln: ln, target: target, server: base}
	go c.accept()
	return c, nil
}

// through returns the store URL u with its host and port replaced by the counter's.
func (c *counter) through(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", errors.New("the store's URL does not parse")
	}
	p.Host = c.ln.Addr().String()
	return p.String(), nil
}

// reset zeroes the counts, once every connection counted so far has closed.
func (c *counter) reset() {
	c.wg.Wait()
	c.trips.Store(0)
	c.conns.Store(0)
	c.cpu.Store(0)
}

// counts returns the counts since reset, once every connection has closed.
func (c *counter) counts() (trips, conns int64, cpu time.Duration) {
	c.wg.Wait()
	return c.trips.Load(), c.conns.Load(), time.Duration(c.cpu.Load())
}

func (c *counter) close() { c.ln.Close() }

func (c *counter) accept() {
	for {
		down, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.wg.Add(1)
		go c.serve(down)
	}
}

// terminate is the message a client sends last, before it hangs up.
var terminate = []byte{'X', 0, 0, 0, 4}

// serve forwards one connection both ways, counting its round trips, and reads the CPU
// time of the server process behind it when the client says goodbye, before the server
// hears it and ends the process.
func (c *counter) serve(down net.Conn) {
	defer c.wg.Done()
	defer down.Close()
	up, err := net.Dial("tcp", c.target)
	if err != nil {
		return
	}
	defer up.Close()
	c.conns.Add(1)
	var mu sync.Mutex
	spoke := false // the client spoke last
	done := make(chan struct{})
	go func() {
		// The server's side: each reply makes the client's next words a new round trip.
		copyEach(down, up, func([]byte) {
			mu.Lock()
			spoke = false
			mu.Unlock()
		})
		close(done)
	}()
	copyEach(up, down, func(b []byte) {
		if bytes.HasSuffix(b, terminate) {
			c.cpu.Add(int64(serverCPU(c.server, up.LocalAddr())))
			return // the goodbye is no round trip
		}
		mu.Lock()
		if !spoke {
			spoke = true
			c.trips.Add(1)
		}
		mu.Unlock()
	})
	up.(*net.TCPConn).CloseWrite()
	<-done
}

// copyEach copies from src to dst, calling each with what it read before forwarding it.
func copyEach(dst io.Writer, src io.Reader, each func([]byte)) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			each(buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serverCPU returns the CPU time of the server process whose client is at local, when the
// server runs on this machine and says which process it is; else zero.
func serverCPU(server string, local net.Addr) time.Duration {
	a, ok := local.(*net.TCPAddr)
	if !ok {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return 0
	}
	defer conn.Close(ctx)
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE client_port = $1`, a.Port).Scan(&pid); err != nil {
		return 0
	}
	d, err := processCPU(pid)
	if err != nil {
		return 0
	}
	return d
}

// processCPU reads a process's user and system time from /proc/PID/stat, in clock ticks of
// 10 ms (Linux's USER_HZ).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count from after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("no command in " + s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short stat: " + s)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
