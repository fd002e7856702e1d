package gqlws

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// A connection carries one WebSocket message per event of each of its
// operations, and graphql-transport-ws has no way to put several in one
// message: written one by one, every message would be a system call.
// corkedConn gathers what is written while its previous bytes are on their
// way, and sends it with one write: a connection that keeps up pays one
// call per message, one that falls behind pays one per batch.

// corkLimit is how many bytes may wait: a writer past it waits for the
// connection to take them.
const corkLimit = 256 << 10

// corking is a ResponseWriter whose hijacked connection is corked.
type corking struct{ http.ResponseWriter }

func (w corking) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack() // through middleware's wrappers
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		nc.Close()
		return nil, nil, err
	}
	c := newCorkedConn(nc)
	return c, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(c)), nil
}

// corkedConn is a net.Conn whose writes are sent by a goroutine of its
// own, together when several wait.
type corkedConn struct {
	net.Conn
	flushed chan struct{} // closed when the sending goroutine ends

	mu      sync.Mutex
	changed sync.Cond // bytes wait, space freed, or the end
	pending []byte    // what waits to be sent
	spare   []byte    // the buffer being sent, for reuse
	err     error     // the connection's failure: every write returns it
	closing bool
}

func newCorkedConn(nc net.Conn) *corkedConn {
	c := &corkedConn{Conn: nc, flushed: make(chan struct{})}
	c.changed.L = &c.mu
	go c.send()
	return c
}

// Write queues p; it waits only while corkLimit bytes wait already.
func (c *corkedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && !c.closing && len(c.pending) >= corkLimit {
		c.changed.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.closing {
		return 0, net.ErrClosed
	}
	c.pending = append(c.pending, p...)
	c.changed.Broadcast()
	return len(p), nil
}

// send writes what waits, as it comes, until the connection fails or is
// closed with nothing left to send.
func (c *corkedConn) send() {
	defer close(c.flushed)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for c.err == nil && !c.closing && len(c.pending) == 0 {
			c.changed.Wait()
		}
		if c.err != nil || len(c.pending) == 0 {
			return // failed, or closing with everything sent
		}
		b := c.pending
		c.pending = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(b)
		c.mu.Lock()
		if cap(b) <= 64<<10 { // a burst's big buffer is let go
			c.spare = b[:0]
		}
		if err != nil && c.err == nil {
			c.err = err
		}
		c.changed.Broadcast()
	}
}

// Close sends what waits (for at most a second: a peer that reads nothing
// does not hold it), then closes the connection.
func (c *corkedConn) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		<-c.flushed
		return nil
	}
	c.closing = true
	c.changed.Broadcast()
	c.mu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	<-c.flushed
	c.mu.Lock()
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.changed.Broadcast()
	c.mu.Unlock()
	return c.Conn.Close()
}
