package eio

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"time"
)

// wsConn is the network connection under a session's WebSocket. The
// WebSocket library writes the handshake's answers, control frames (pong,
// close) and the close through Write; the session writes its data
// messages through writeMessages, all of a batch with one system call, as
// the native transport's newline batching does: Engine.IO puts each
// packet in a WebSocket message of its own, and the library would flush
// each one with a system call of its own. mu keeps each write whole.
type wsConn struct {
	net.Conn

	mu  sync.Mutex
	buf []byte // the batch being written; only writeMessages uses it
}

// libraryWriteBuffer is the size of the library's write buffer: a control
// frame (at most 125 bytes of payload) and its header fit.
const libraryWriteBuffer = 256

// keepBatchBytes is the largest batch buffer kept between batches.
const keepBatchBytes = 16 << 10

// Write writes p whole; the library flushes each frame in one Write.
func (c *wsConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(p)
}

// writeMessages writes frames as WebSocket messages with one system call,
// within ctx's deadline. They are framed here as RFC 6455, section 5.2,
// has a server frame them: final and unmasked, and uncompressed since
// compression is never negotiated. The caller ensures that the library
// is not writing a data message meanwhile: Session writes every data
// message of an open session here, under its write lock.
func (c *wsConn) writeMessages(ctx context.Context, frames []Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range frames {
		c.buf = appendMessage(c.buf, f)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = c.Conn.SetWriteDeadline(d)
		defer c.Conn.SetWriteDeadline(time.Time{})
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > keepBatchBytes {
		c.buf = nil // a burst grew it: idle sessions stay small
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// appendMessage appends f as one final, unmasked WebSocket frame.
func appendMessage(dst []byte, f Frame) []byte {
	op := byte(0x1) // text
	if f.Binary {
		op = 0x2
	}
	dst = append(dst, 0x80|op)
	switch n := len(f.Data); {
	case n <= 125:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, f.Data...)
}

// hijackWriter is the http.ResponseWriter given to websocket.Accept: its
// Hijack hands the library a wsConn, with a write buffer over it. The
// library writes only the handshake's answers and control frames through
// that buffer (data messages go through wsConn.writeMessages), so it is
// small: a session keeps it for its life.
type hijackWriter struct {
	http.ResponseWriter
	conn *wsConn
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &wsConn{Conn: nc}
	return w.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(w.conn, libraryWriteBuffer)), nil
}

func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
