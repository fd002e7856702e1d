package eio

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkConn lets a session write several WebSocket messages with one system
// call. Engine.IO puts each packet in its own WebSocket message, and the
// WebSocket library flushes each message to the connection; while corked,
// what it flushes is kept here, and uncork writes it all at once, as the
// native transport's newline batching does. All writes to the connection
// go through mu, so that the library's own frames (pongs, close) never
// interleave with a batch.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    []byte
}

// keepCorkBytes is the largest batch buffer kept between batches.
const keepCorkBytes = 16 << 10

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was kept, within ctx's deadline.
func (c *corkConn) uncork(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	if d, ok := ctx.Deadline(); ok {
		_ = c.Conn.SetWriteDeadline(d)
		defer c.Conn.SetWriteDeadline(time.Time{})
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > keepCorkBytes {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// corkWriter is the http.ResponseWriter given to websocket.Accept: its
// Hijack hands the library a corkConn, with a write buffer over it.
type corkWriter struct {
	http.ResponseWriter
	conn *corkConn
}

func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: nc}
	return w.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(w.conn)), nil
}

func (w *corkWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
