package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/bufpool"
	"github.com/realtime-go/realtime/internal/wire"
	"github.com/realtime-go/realtime/socketio/internal/eio"
	"github.com/realtime-go/realtime/socketio/internal/sio"
)

// closeWait bounds how long Close waits for a long-polling client to
// collect its last packets.
const closeWait = 5 * time.Second

// conn carries one Socket.IO connection to the main namespace for the Hub:
// a realtime.Transport. Read turns the client's events into native client
// frames; Write turns the Hub's pushes and replies into Socket.IO events
// and acks. The Hub calls Read from one goroutine and Write, Close and
// Abort from another; the session's reader delivers events through in.
//
// The session's reader is a goroutine of its own already, so the Hub need
// keep none waiting for an idle connection: once connected it reads with
// ReadOrPark, and a parked connection is woken by the next event or by the
// end (see the Hub's parker).
type conn struct {
	sock *sio.Socket
	log  *slog.Logger

	in   chan []byte   // native frames for Read
	done chan struct{} // closed when the connection ends, either side
	once sync.Once
	why  error // why done was closed; set before

	pmu    sync.Mutex
	parked func() // the Hub's wake while it waits for in or done; guarded by pmu
	served func() // called once when the Hub is done with the connection

	// accepted says whether the client's CONNECT was answered: by connect
	// when the Hub needs no token, else by Write with the connected push.
	accepted atomic.Bool

	// Only Write touches these.
	buf    []byte
	ends   []int // where each packet of buf ends
	frames []eio.Frame
}

var _ realtime.Transport = (*conn)(nil)

func newConn(sock *sio.Socket, log *slog.Logger, served func()) *conn {
	c := &conn{sock: sock, log: log, in: make(chan []byte, 8), done: make(chan struct{}), served: served}
	sock.Handle(c.onEvent, c.onDisconnect)
	return c
}

// end closes done once, recording why, and wakes a parked Hub.
func (c *conn) end(why error) {
	c.once.Do(func() {
		c.why = why
		close(c.done)
	})
	c.unpark()
}

// unpark calls the Hub's wake if it waits. Called after what it waits for
// (a frame in in, done closed) happened, it cannot miss ReadOrPark: that
// looks for both under pmu before it keeps the wake.
func (c *conn) unpark() {
	c.pmu.Lock()
	wake := c.parked
	c.parked = nil
	c.pmu.Unlock()
	if wake != nil {
		wake()
	}
}

// ReadOrPark returns the next native frame, or the end, when one is there;
// otherwise it keeps wake for unpark and reports parked.
func (c *conn) ReadOrPark(wake func()) ([]byte, bool, error) {
	for {
		select {
		case f := <-c.in:
			return f, false, nil
		default:
		}
		select {
		case <-c.done:
			return nil, false, c.why
		default:
		}
		c.pmu.Lock()
		if len(c.in) == 0 {
			// end closes done before its unpark takes pmu: done is
			// looked at again under pmu, or an end that came since the
			// look above would find nothing to wake, and nothing ever
			// would (TestParkSeesEnd).
			select {
			case <-c.done:
				c.pmu.Unlock()
				return nil, false, c.why
			default:
			}
			c.parked = wake
			c.pmu.Unlock()
			return nil, true, nil
		}
		c.pmu.Unlock()
	}
}

// Served tells the Server that the Hub is done with the connection.
func (c *conn) Served() { c.served() }

// accept answers the client's CONNECT, once.
func (c *conn) accept(ctx context.Context) error {
	if c.accepted.Load() {
		return nil
	}
	if err := c.sock.Accept(ctx); err != nil {
		return err
	}
	c.accepted.Store(true)
	return nil
}

// errBinary answers events with binary arguments, which the Hub's JSON
// protocol has no place for.
var errBinary = realtime.Errorf(realtime.CodeInvalid, "binary arguments are not supported: send JSON")

// onEvent turns an event into a native client frame: its first argument
// is the data, its ack id plus one the ack number (native acks start at 1,
// Socket.IO's at 0).
func (c *conn) onEvent(e sio.Event) {
	switch {
	case len(e.Binary) > 0:
		c.refuse(e, errBinary)
		return
	case len(e.Args) > 1:
		c.refuse(e, realtime.Errorf(realtime.CodeInvalid, "an event takes one data argument"))
		return
	case e.ID >= wire.MaxAck:
		c.refuse(e, realtime.Errorf(realtime.CodeInvalid, "ack id too large"))
		return
	}
	var data []byte
	if len(e.Args) == 1 {
		data = e.Args[0]
	}
	frame := wire.AppendClient(make([]byte, 0, len(e.Name)+len(data)+40), e.Name, data, uint64(e.ID+1))
	select {
	case c.in <- frame:
		c.unpark()
	case <-c.done:
	}
}

// refuse answers an event the bridge cannot hand to the Hub, as the Hub
// answers an invalid one: an ack with the error, or an error event.
func (c *conn) refuse(e sio.Event, err *realtime.Error) {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	if e.ID >= 0 {
		reply, _ := json.Marshal(map[string]*realtime.Error{"error": err})
		_ = c.sock.Ack(ctx, e.ID, []json.RawMessage{reply}, nil)
		return
	}
	data, _ := json.Marshal(struct {
		Code    realtime.Code `json:"code"`
		Message string        `json:"message"`
		Event   string        `json:"event,omitempty"`
	}{err.Code, err.Message, e.Name})
	_ = c.sock.Emit(ctx, "error", []json.RawMessage{data}, nil)
}

// onDisconnect ends the connection when the client leaves the namespace
// or its session closes.
func (c *conn) onDisconnect(reason string) {
	if reason == "client namespace disconnect" {
		c.end(&realtime.CloseError{Code: realtime.StatusNormal, Reason: "client disconnect"})
		return
	}
	c.end(errors.New("socketio: " + reason))
}

// Read returns the next native frame from the client.
func (c *conn) Read(ctx context.Context) ([]byte, error) {
	select {
	case f := <-c.in:
		return f, nil
	default:
	}
	select {
	case f := <-c.in:
		return f, nil
	case <-c.done:
		return nil, c.why
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Name names the transport for the hub's Observer.
func (c *conn) Name() string { return "socketio" }

// Write turns the Hub's frames into Socket.IO packets of the main
// namespace, one Engine.IO message each: a push becomes
// 42["event",data], a reply 43<ack-1>[{...}] whose one argument is
// {"data":...} or {"error":{...}}. The frame that accepts the connection
// first answers the CONNECT of a client that authenticated with it.
func (c *conn) Write(ctx context.Context, frames []realtime.Frame) error {
	bp := packetBufs.Get()
	c.buf = *bp
	defer func() {
		*bp = c.buf
		packetBufs.Put(bp)
		c.buf = nil
	}()
	c.buf, c.ends = c.buf[:0], c.ends[:0]
	for _, f := range frames {
		start := len(c.buf)
		c.buf = appendPacket(c.buf, f)
		if f.Accepts() && !c.accepted.Load() {
			// Answer the CONNECT first, after what preceded it.
			if err := c.flush(ctx, c.buf[:start]); err != nil {
				return err
			}
			c.buf = append(c.buf[:0], c.buf[start:]...)
			if err := c.accept(ctx); err != nil {
				return err
			}
		}
		c.ends = append(c.ends, len(c.buf))
	}
	return c.flush(ctx, c.buf)
}

// flush sends the packets of buf, which end at c.ends, and forgets them.
func (c *conn) flush(ctx context.Context, buf []byte) error {
	if len(c.ends) == 0 {
		return nil
	}
	c.frames = c.frames[:0]
	start := 0
	for _, end := range c.ends {
		c.frames = append(c.frames, eio.Frame{Data: buf[start:end]})
		start = end
	}
	c.ends = c.ends[:0]
	err := c.sock.Send(ctx, c.frames...)
	clear(c.frames)
	return err
}

// packetBufs lends the buffers Write builds packets in: a connection holds
// one only while it writes. Engine.IO copies what it queues for
// long-polling and writes WebSocket frames before Send returns.
var packetBufs = bufpool.New(0, 64<<10)

// appendPacket appends the Engine.IO message packet of one Hub frame.
func appendPacket(dst []byte, f realtime.Frame) []byte {
	dst = append(dst, eio.TypeMessage)
	switch f.Kind() {
	case realtime.FramePush:
		dst = sio.AppendHeader(dst, sio.TypeEvent, "/", -1, 0)
		dst = append(dst, '[')
		dst = f.AppendEvent(dst)
		dst = append(dst, ',')
		dst = append(dst, f.Data()...)
		return append(dst, ']')
	case realtime.FrameReply:
		dst = sio.AppendHeader(dst, sio.TypeAck, "/", int64(f.Ack()-1), 0)
		dst = append(dst, `[{"data":`...)
		dst = append(dst, f.Data()...)
		return append(dst, "}]"...)
	default:
		e := f.Err()
		dst = sio.AppendHeader(dst, sio.TypeAck, "/", int64(f.Ack()-1), 0)
		dst = append(dst, `[{"error":{"code":`...)
		dst = wire.AppendString(dst, string(e.Code))
		dst = append(dst, `,"message":`...)
		dst = wire.AppendString(dst, e.Message)
		return append(dst, "}}]"...)
	}
}

// Ping reports whether the session is still open; Engine.IO's own
// heartbeat closes sessions whose client stopped answering.
func (c *conn) Ping(ctx context.Context) error {
	select {
	case <-c.done:
		return c.why
	default:
		return nil
	}
}

// Close ends the connection with a Hub close code. Before the CONNECT was
// answered it is refused with CONNECT_ERROR {message: reason, data: {code,
// closeCode}}. After, a code that asks the client not to come back
// (4001, 4003, 4008, 1008, 1000) sends an error event {code, message,
// closeCode} and DISCONNECT, after which socket.io-client does not
// reconnect; any other code (1001 shutting down, 4009 too slow, ...)
// closes the Engine.IO session, after which it reconnects by itself.
func (c *conn) Close(code realtime.StatusCode, reason string) error {
	c.end(&realtime.CloseError{Code: code, Reason: reason})
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	if !c.accepted.Load() {
		return c.sock.Refuse(ctx, reason, closeData(code))
	}
	if code.Final() {
		data, _ := json.Marshal(struct {
			Code      realtime.Code `json:"code"`
			Message   string        `json:"message"`
			CloseCode int           `json:"closeCode"`
		}{codeOf(code), reason, int(code)})
		_ = c.sock.Emit(ctx, "error", []json.RawMessage{data}, nil)
		return c.sock.Disconnect(ctx)
	}
	c.sock.CloseSession(false)
	select {
	case <-c.sock.SessionDone():
	case <-ctx.Done():
		c.sock.CloseSession(true)
	}
	return nil
}

// Abort ends the connection at once: it drops the session unless the
// connection already ended (Close, or the client left).
func (c *conn) Abort() {
	select {
	case <-c.done:
		return
	default:
	}
	c.end(errors.New("socketio: aborted"))
	c.sock.CloseSession(true)
}

// codeOf returns the error code a close code stands for.
func codeOf(code realtime.StatusCode) realtime.Code {
	switch code {
	case realtime.StatusUnauthorized:
		return realtime.CodeUnauthorized
	case realtime.StatusForbidden, realtime.StatusPolicy:
		return realtime.CodeForbidden
	case realtime.StatusRateLimited:
		return realtime.CodeRateLimited
	case realtime.StatusTooBig:
		return realtime.CodeTooLarge
	}
	return realtime.CodeUnavailable
}

// closeData is the data of a CONNECT_ERROR: {code, closeCode}.
func closeData(code realtime.StatusCode) json.RawMessage {
	b, _ := json.Marshal(struct {
		Code      realtime.Code `json:"code"`
		CloseCode int           `json:"closeCode"`
	}{codeOf(code), int(code)})
	return b
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
