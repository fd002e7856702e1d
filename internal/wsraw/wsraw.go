// Package wsraw writes the data messages of a server WebSocket itself,
// under a library (coder/websocket) that still reads the connection and
// writes its control frames: a message goes out with one system call,
// framed here, without the library's write lock and buffer copy.
//
// The library is given a Hijacker as its http.ResponseWriter: its Hijack
// hands the library a Conn, with a small write buffer, since the library
// then writes only the handshake's answers and control frames (ping, pong,
// close). The application writes whole frames with Conn.WriteFrames. Both
// write through Conn.Write, whose lock keeps every frame whole. Only for
// connections without compression: a compressed message must go through
// the library.
package wsraw

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Conn is the network connection under a WebSocket.
type Conn struct {
	net.Conn
	mu sync.Mutex
	// held is the upgrade's response, when Hijacker.Hold kept it back:
	// the first write sends it first.
	held []byte
	// closeSent is set once the library has written a close frame: no
	// data may follow it (RFC 6455, section 5.5.1).
	closeSent bool
}

// Write writes p whole; the library flushes each control frame in one
// Write, which its buffer (LibraryWriteBuffer) holds.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if isCloseFrame(p) {
		c.closeSent = true
	}
	if c.held != nil {
		if err := c.writeHeld(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// isCloseFrame reports whether p is exactly one close frame as a server
// writes it: final, unmasked, its payload (at most 125 bytes) whole. The
// library flushes a control frame alone; a chunk of a larger message
// cannot pass for one.
func isCloseFrame(p []byte) bool {
	return len(p) >= 2 && p[0] == 0x88 && int(p[1]) == len(p)-2
}

// writeHeld writes the held response and p with one system call; c.mu is
// held.
func (c *Conn) writeHeld(p []byte) error {
	b := append(c.held, p...)
	c.held = nil
	_, err := c.Conn.Write(b)
	return err
}

// WriteFrames writes b, whole WebSocket frames, with one system call; a
// deadline that is not zero bounds the write. After the library's close
// frame it writes nothing and returns net.ErrClosed.
func (c *Conn) WriteFrames(deadline time.Time, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if !deadline.IsZero() {
		_ = c.Conn.SetWriteDeadline(deadline)
		defer c.Conn.SetWriteDeadline(time.Time{})
	}
	if c.held != nil {
		return c.writeHeld(b)
	}
	_, err := c.Conn.Write(b)
	return err
}

// LibraryWriteBuffer is the size of the library's write buffer: a control
// frame (at most 125 bytes of payload) and its header fit.
const LibraryWriteBuffer = 256

// Hijacker is the http.ResponseWriter to give the library's Accept: after
// it, Conn is the connection.
type Hijacker struct {
	http.ResponseWriter
	Conn *Conn
	// LibraryWrites leaves every write to the library (a compressed
	// message must go through it): the hijacked connection and net/http's
	// buffers are handed on as they are, Conn stays nil, and a held 101
	// goes into the library's write buffer, which its first write flushes.
	LibraryWrites bool
	// Hold keeps the 101 response back until the first write, which sends
	// both with one system call: for a server whose first message follows
	// the upgrade at once. Only Date, which a 1xx response may leave out
	// (RFC 9110, section 6.6.1), is missing from what net/http would send.
	Hold bool
	held bool // the 101 was held
}

// WriteHeader holds the 101 response back when w.Hold is set.
func (w *Hijacker) WriteHeader(code int) {
	if w.Hold && code == http.StatusSwitchingProtocols {
		w.held = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// ReadBuffer is the size of the library's read buffer, in place of the
// 4 KiB net/http reads requests with: a client's frames are small, and a
// connection keeps the buffer for its life.
const ReadBuffer = 1 << 10

// Hijack hijacks the underlying connection and wraps it in a Conn, with
// buffers of its own: what the request's reader had buffered past the
// request (a client may send its first frame at once) is in the new
// reader's buffer, where the library looks for it.
func (w *Hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if w.LibraryWrites {
		if w.held {
			_, _ = brw.Write(UpgradeResponse(w.Header()))
		}
		return nc, brw, nil
	}
	w.Conn = &Conn{Conn: nc}
	if w.held {
		w.Conn.held = UpgradeResponse(w.Header())
	}
	var br *bufio.Reader
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), w.Conn), max(ReadBuffer, n))
		_, _ = br.Peek(n) // in the buffer: no read from the network
	} else {
		br = bufio.NewReaderSize(w.Conn, ReadBuffer)
	}
	return w.Conn, bufio.NewReadWriter(br, bufio.NewWriterSize(w.Conn, LibraryWriteBuffer)), nil
}

// CanHijack reports whether w, or a ResponseWriter it wraps (Unwrap), can
// be hijacked: a Hijacker over one that cannot would turn the library's
// clean refusal (501) into a failed hijack after the 101.
func CanHijack(w http.ResponseWriter) bool {
	for {
		switch u := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = u.Unwrap()
		default:
			return false
		}
	}
}

// Unwrap returns the ResponseWriter under w, for http.ResponseController.
func (w *Hijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// UpgradeResponse returns the 101 response with header h, as a held
// upgrade writes it itself.
func UpgradeResponse(h http.Header) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

// MaxHeader is the longest header of a server frame.
const MaxHeader = 10

// AppendFrame appends data as one final, unmasked, uncompressed frame, as
// RFC 6455, section 5.2, has a server frame a message: text, or binary.
func AppendFrame(dst []byte, binary bool, data []byte) []byte {
	dst = AppendHeader(dst, binary, len(data))
	return append(dst, data...)
}

// AppendHeader appends the header of such a frame of n bytes.
func AppendHeader(dst []byte, bin bool, n int) []byte {
	op := byte(0x1) // text
	if bin {
		op = 0x2
	}
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xffff:
		return append(dst, 126, byte(n>>8), byte(n))
	}
	dst = append(dst, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// Frame frames the payload that follows MaxHeader reserved bytes at the
// start of buf as a text frame, and returns the frame: the header is
// written just before the payload, so nothing is copied.
func Frame(buf []byte) []byte {
	var h [MaxHeader]byte
	head := AppendHeader(h[:0], false, len(buf)-MaxHeader)
	start := MaxHeader - len(head)
	copy(buf[start:], head)
	return buf[start:]
}
