package eio

import (
	"context"
	"time"

	"github.com/realtime-go/realtime/internal/wsraw"
)

// wsConn is the network connection under a session's WebSocket
// (wsraw.Conn): the library writes the handshake's answers and control
// frames (pong, close) through it; the session writes its data messages
// with writeMessages, all of a batch with one system call, as the native
// transport's newline batching does: Engine.IO puts each packet in a
// WebSocket message of its own, and the library would flush each one with
// a system call of its own.
type wsConn struct {
	*wsraw.Conn
	buf []byte // the batch being written; only writeMessages uses it, under the session's write lock
}

// keepBatchBytes is the largest batch buffer kept between batches.
const keepBatchBytes = 16 << 10

// writeMessages writes frames as WebSocket messages with one system call,
// within ctx's deadline. The caller ensures that the library is not
// writing a data message meanwhile: Session writes every data message of
// an open session here, under its write lock.
func (c *wsConn) writeMessages(ctx context.Context, frames []Frame) error {
	for _, f := range frames {
		c.buf = wsraw.AppendFrame(c.buf, f.Binary, f.Data)
	}
	var deadline time.Time
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	err := c.Conn.WriteFrames(deadline, c.buf)
	if cap(c.buf) > keepBatchBytes {
		c.buf = nil // a burst grew it: idle sessions stay small
	} else {
		c.buf = c.buf[:0]
	}
	return err
}
