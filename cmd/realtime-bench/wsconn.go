package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/coder/websocket"

	"github.com/realtime-go/realtime/internal/bufpool"
	"github.com/realtime-go/realtime/internal/wire"
)

// maxFrameBytes bounds one server frame the bench accepts. A realtime.v1
// join-room ack lists every member of the room, which for thousands of
// members is megabytes.
const maxFrameBytes = 64 << 20

// readBufs lends the buffers frames are read into: a connection holds one
// from the start of a frame until its next read, so that thousands of
// connections share the few that are in use at once rather than each
// growing its own (which costs the bench page faults, more so for a server
// that sends large frames). The few frames larger than 128 KiB (join acks)
// are read into buffers that are then dropped.
var readBufs = bufpool.New(32<<10, 128<<10)

// wsConn is one bench connection: a WebSocket and the buffer its last
// frame was read into. One goroutine reads; any may write.
type wsConn struct {
	ws  *websocket.Conn
	buf *[]byte
}

// compression is what dialWS offers: -compression makes it
// permessage-deflate without context takeover.
var compression = websocket.CompressionDisabled

// dialWS opens a WebSocket to a loopback URL.
func dialWS(ctx context.Context, client *http.Client, url string, header http.Header, subprotocols ...string) (*wsConn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      client,
		HTTPHeader:      header,
		Subprotocols:    subprotocols,
		CompressionMode: compression,
	})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(maxFrameBytes)
	return &wsConn{ws: ws}, nil
}

// read returns the next text frame. The frame is valid until the next read.
func (c *wsConn) read(ctx context.Context) ([]byte, error) {
	for {
		if c.buf != nil {
			readBufs.Put(c.buf)
			c.buf = nil
		}
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			return nil, err
		}
		c.buf = readBufs.Get()
		b, err := wire.AppendFrame(*c.buf, r)
		*c.buf = b
		if err != nil {
			return nil, err
		}
		if typ == websocket.MessageText {
			return b, nil
		}
	}
}

// write sends one text frame. It is safe to call from several goroutines.
func (c *wsConn) write(ctx context.Context, frame []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, frame)
}

// close drops the connection without a closing handshake.
func (c *wsConn) close() { _ = c.ws.CloseNow() }

// awaitLine reads frames until one of their newline-separated objects
// satisfies match, answering what the protocol needs answered meanwhile
// (centrifuge pings). It returns that object, valid until the next read.
func (c *wsConn) awaitLine(ctx context.Context, p proto, match func(line []byte) bool) ([]byte, error) {
	for {
		frame, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		if _, answer := p.control(frame); answer != nil {
			if err := c.write(ctx, answer); err != nil {
				return nil, err
			}
		}
		for line := range bytes.Lines(frame) {
			if line = bytes.TrimSpace(line); match(line) {
				return line, nil
			}
		}
	}
}

// closeCode returns the WebSocket close code that ended a connection, or -1
// when it ended without one.
func closeCode(err error) int {
	return int(websocket.CloseStatus(err))
}

// errReply is a server's refusal of a setup request.
type errReply struct {
	what string
	line []byte
}

// refused returns an errReply holding a copy of the server's answer.
func refused(what string, line []byte) error {
	return &errReply{what: what, line: bytes.Clone(line)}
}

func (e *errReply) Error() string {
	const maxShown = 300
	line := e.line
	if len(line) > maxShown {
		line = line[:maxShown]
	}
	return fmt.Sprintf("%s refused: %s", e.what, line)
}
