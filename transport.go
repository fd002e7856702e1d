package realtime

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/coder/websocket"

	"github.com/realtime-go/realtime/internal/bufpool"
	"github.com/realtime-go/realtime/internal/httpx"
	"github.com/realtime-go/realtime/internal/wire"
	"github.com/realtime-go/realtime/internal/wsraw"
)

// Transport carries the frames of one client connection for the Hub. The
// native WebSocket of ServeHTTP is one; the Socket.IO bridge is another.
// Hub.ServeTransport runs a connection over any Transport, with the same
// events, rooms and rules.
//
// The Hub calls Read from one goroutine and Write, Close and Abort from
// another; Ping may run concurrently with both, and so may Abort, which the
// Hub also calls to end a Write that has taken longer than
// Config.WriteTimeout. A panic in Write, in Ping or in the Close that
// follows a connection's last Write ends that connection, logged at error
// level, not the process.
type Transport interface {
	// Read returns the next client frame: one JSON object of PROTOCOL.md
	// section 2. ErrUnsupportedFrame is answered with an invalid error and
	// the connection goes on; any other error ends it, and when the peer
	// closed with a code it is a *CloseError carrying that code. The
	// frame need only stay valid until the next Read: the Hub keeps none.
	Read(ctx context.Context) ([]byte, error)
	// Write sends server frames, in order, in as few messages as the
	// transport allows, and returns by the deadline of ctx
	// (Config.WriteTimeout). Each Frame is typed (a push, a reply, a
	// failed reply) and carries its native encoding; the first push of a
	// connection is the one that Accepts it. Frames are shared with other
	// connections and must not be modified, nor kept after Write returns.
	Write(ctx context.Context, frames []Frame) error
	// Ping checks that the peer still answers.
	Ping(ctx context.Context) error
	// Close ends the connection with a close code, after what was written,
	// waiting a bounded time for the peer to acknowledge.
	Close(code StatusCode, reason string) error
	// Abort ends the connection at once.
	Abort()
}

// parker is a Transport whose frames a goroutine of its own hands over
// (the Socket.IO bridge's: the Engine.IO session reads its socket). Rather
// than keep a goroutine waiting in Read for every idle connection, the hub
// parks such a connection and lets the transport wake it: an idle
// Socket.IO connection then costs the session's goroutine alone.
// ServeTransport returns once the connection parks; Served says when the
// hub is done with the transport, where ServeTransport would have returned.
type parker interface {
	Transport
	// ReadOrPark returns what Read would when Read would not block;
	// otherwise it keeps wake and returns parked: wake is then called
	// once, as soon as Read would not block (a frame came, or the
	// transport ended, Abort and Close included), from whichever
	// goroutine made it so.
	ReadOrPark(wake func()) (frame []byte, parked bool, err error)
	// Served is called once, when the hub is done with the transport.
	Served()
}

// errParked ends a read loop whose connection parked.
var errParked = errors.New("realtime: parked")

// ErrUnsupportedFrame is returned by Transport.Read for a frame the protocol
// has no meaning for, such as a binary WebSocket message.
var ErrUnsupportedFrame = errors.New("realtime: unsupported frame")

// wsTransport is the native WebSocket transport: newline-batched JSON text
// frames (PROTOCOL.md section 2).
type wsTransport struct {
	ws *websocket.Conn
	// raw, on a hub without compression, is the network connection:
	// Write frames the data messages itself and writes each with one
	// system call (wsraw), where the library would take its write lock
	// and write a large message with two. Nil: the library writes.
	raw *wsraw.Conn
	// compact is set when the client speaks realtime.v2: message pushes
	// lose their senderId as they are written, where the Frame says
	// (Frame.appendCompact).
	compact bool
	// hooked is set once the context of the reads aborts the connection
	// when it ends: one hook for the connection's life, where
	// coder/websocket would set one up for every frame. The hub always
	// ends that context when it releases the connection, which unhooks it.
	hooked bool
	// frame is the buffer the last frame was read into; the next Read
	// returns it to readBufs before it waits, so that an idle connection
	// holds none.
	frame *[]byte
}

// readBufs lends the buffers client frames are read into, frameBufs those
// batched frames are built in.
var (
	readBufs  = bufpool.New(1<<10, 64<<10)
	frameBufs = bufpool.New(0, 2*batchBytes)
)

// Read returns the next text frame, valid until the next Read. The hub
// reads a connection with one context for its whole life: when that
// context ends, the connection is aborted.
func (t *wsTransport) Read(ctx context.Context) ([]byte, error) {
	if !t.hooked {
		t.hooked = true
		context.AfterFunc(ctx, t.Abort)
	}
	if t.frame != nil {
		readBufs.Put(t.frame)
		t.frame = nil
	}
	typ, r, err := t.ws.Reader(context.Background())
	var b []byte
	if err == nil {
		t.frame = readBufs.Get()
		b, err = wire.AppendFrame(*t.frame, r)
		*t.frame = b
	}
	if err != nil {
		var ce websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return nil, &CloseError{Code: StatusCode(ce.Code), Reason: ce.Reason}
		case errors.Is(err, websocket.ErrMessageTooBig):
			return nil, &CloseError{Code: StatusTooBig, Reason: "frame too big"}
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, ErrUnsupportedFrame
	}
	return b, nil
}

// Write writes the native encodings of frames, newline-separated, in
// WebSocket messages of about batchBytes each (PROTOCOL.md section 2). It
// writes with a context that cannot end: the hub ends a stuck write with
// Abort, and coder/websocket would otherwise arm and disarm a cancellation
// hook for every message.
func (t *wsTransport) Write(_ context.Context, objs []Frame) error {
	if t.raw == nil && len(objs) == 1 && !(t.compact && objs[0].cut() != 0) {
		return t.ws.Write(context.Background(), websocket.MessageText, objs[0].native)
	}
	w := t.newMessages()
	defer w.done()
	if err := w.addAll(objs); err != nil {
		return err
	}
	return w.flush()
}

// writeQueue is Write of the frames of q, not empty, read in place from
// its chunks.
func (t *wsTransport) writeQueue(q *frameQueue) error {
	if q.head == q.tail {
		return t.Write(context.Background(), q.chunk(q.head))
	}
	w := t.newMessages()
	defer w.done()
	for frames := range q.chunks() {
		if err := w.addAll(frames); err != nil {
			return err
		}
	}
	return w.flush()
}

// messages builds the WebSocket messages of a Write in a buffer from
// frameBufs, writing each once the next frame would take it past
// batchBytes.
type messages struct {
	t   *wsTransport
	bp  *[]byte
	buf []byte
	n   int // frames in buf
}

func (t *wsTransport) newMessages() messages {
	bp := frameBufs.Get()
	return messages{t: t, bp: bp, buf: (*bp)[:0]}
}

// add appends f to the message being built, writing that message first
// when f would take it past batchBytes.
func (w *messages) add(f *Frame) error {
	if w.n > 0 && len(w.buf)+len(f.native) >= batchBytes {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if w.n == 0 && w.t.raw != nil {
		w.buf = append(w.buf[:0], reserved[:wsraw.MaxHeader]...) // the header goes there
	}
	if w.n > 0 {
		w.buf = append(w.buf, '\n')
	}
	if w.t.compact {
		w.buf = f.appendCompact(w.buf)
	} else {
		w.buf = append(w.buf, f.native...)
	}
	w.n++
	return nil
}

// addAll adds frames in order.
func (w *messages) addAll(frames []Frame) error {
	for i := range frames {
		if err := w.add(&frames[i]); err != nil {
			return err
		}
	}
	return nil
}

// flush writes the message being built, if any.
func (w *messages) flush() error {
	if w.n == 0 {
		return nil
	}
	w.n = 0
	buf := w.buf
	w.buf = w.buf[:0]
	if w.t.raw != nil {
		// No deadline: the hub's stuck timer aborts a write that hangs.
		return w.t.raw.WriteFrames(time.Time{}, wsraw.Frame(buf))
	}
	return w.t.ws.Write(context.Background(), websocket.MessageText, buf)
}

// done gives the buffer back.
func (w *messages) done() {
	*w.bp = w.buf[:0]
	frameBufs.Put(w.bp)
}

// reserved is the room a frame's header is written into (wsraw.Frame).
var reserved [wsraw.MaxHeader]byte

func (t *wsTransport) Ping(ctx context.Context) error { return t.ws.Ping(ctx) }

func (t *wsTransport) Close(code StatusCode, reason string) error {
	return t.ws.Close(websocket.StatusCode(code), reason)
}

func (t *wsTransport) Abort() { _ = t.ws.CloseNow() }

// ServeHTTP upgrades the request to a WebSocket and serves it until it
// closes. It refuses cross-origin requests from origins not in
// Config.AllowedOrigins (403) and every request once Shutdown has begun (503).
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.closing.Load() {
		http.Error(w, "realtime: shutting down", http.StatusServiceUnavailable)
		return
	}
	// The origin check of every transport (httpx.OriginAllowed), in
	// place of coder/websocket's own.
	if !httpx.OriginAllowed(r, h.cfg.AllowedOrigins) {
		http.Error(w, "realtime: origin not allowed", http.StatusForbidden)
		return
	}
	// The limits on connections, before the upgrade costs anything: a
	// token that came with the request is verified now.
	token := httpx.Token(r)
	if token != "" {
		// Verifying it takes this goroutine deeper than anything else
		// here does: its stack grows now, while shallow (growStack).
		growStack()
	}
	pre, refused := h.admitRequest(r.Context(), token, remoteHost(r))
	if refused != nil {
		h.log.Debug("realtime: connection refused", "remote", r.RemoteAddr, "err", refused)
		writeHTTPError(w, refused)
		return
	}
	opts := &websocket.AcceptOptions{
		// The first the client offers of ours, newest first; a client
		// that offers none speaks realtime.v1.
		Subprotocols:       []string{wire.SubprotocolV2, wire.Subprotocol},
		InsecureSkipVerify: true, // the origin was checked above
		CompressionMode:    websocket.CompressionDisabled,
	}
	if h.cfg.Compression {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
		opts.CompressionThreshold = h.cfg.CompressionThreshold
	}
	// connected follows the upgrade at once (no hook to wait for, no auth
	// event to read): the 101 response is held and leaves with it, in one
	// write.
	hold := h.cfg.OnConnect == nil && (token != "" || h.cfg.Authenticator == nil)
	// Without compression, data messages go out through wsraw, and the
	// library keeps a small write buffer for its control frames. A
	// compressing hub leaves every write to the library.
	var rw http.ResponseWriter = &wsraw.Hijacker{ResponseWriter: w, Hold: hold, LibraryWrites: h.cfg.Compression}
	if !wsraw.CanHijack(w) {
		rw = w // the library refuses it with 501
	}
	ws, err := websocket.Accept(rw, r, opts)
	if err != nil {
		// Accept has written the response.
		h.conns.give(pre.slot)
		h.log.Debug("realtime: upgrade refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	ws.SetReadLimit(h.cfg.MaxFrameBytes)
	t := &wsTransport{ws: ws, compact: ws.Subprotocol() == wire.SubprotocolV2}
	if hw, ok := rw.(*wsraw.Hijacker); ok {
		t.raw = hw.Conn // nil when the library writes
	}
	c := h.open(t, r, token, pre)
	if c == nil {
		return
	}
	// The request's goroutine has grown its stack parsing HTTP and keeps
	// the request alive; a fresh goroutine reads the connection from here,
	// so that an idle connection costs one small goroutine.
	go func() {
		defer h.connsWG.Done()
		h.run(c)
	}()
}

// ServeTransport serves one client connection over t until it ends; r is
// the request that opened it (for hooks) and token the credential it
// carried, or "" to expect an auth event first. Transports other than the
// native WebSocket (the Socket.IO bridge) call it; it returns when the
// connection is closed and t released.
func (h *Hub) ServeTransport(t Transport, r *http.Request, token string) {
	// The transport counted the address, if it does (AdmitAddress).
	pre, refused := h.admitRequest(r.Context(), token, "")
	if refused != nil {
		_ = t.Close(StatusRateLimited, refused.Message)
		served(t)
		return
	}
	if c := h.open(t, r, token, pre); c != nil {
		h.serve(c)
		return
	}
	served(t)
}

// serve runs a connection open returned until it ends, then stops counting
// it (h.connsWG) and, for a parker, says that it was served; or until it
// parks, when the transport's wake serves it again.
func (h *Hub) serve(c *conn) {
	if h.run(c) {
		return
	}
	h.connsWG.Done()
	served(c.t)
}

// served tells a parker that the hub is done with it.
func served(t Transport) {
	if p, ok := t.(parker); ok {
		p.Served()
	}
}

// open connects a client over t (see connect). It returns the registered
// connection, counted in h.connsWG until the caller has run it, or nil when
// the client did not get that far and t is released. A panic while
// connecting (in the Authenticator or OnConnect) closes t with 1011 and is
// logged.
func (h *Hub) open(t Transport, r *http.Request, token string, pre *admitted) (opened *conn) {
	if !h.admit() {
		h.conns.give(pre.slot)
		_ = t.Close(StatusGoingAway, "server shutting down")
		return nil
	}
	c := newConn(h, t)
	c.remoteAddr, c.userAgent = r.RemoteAddr, truncate(r.UserAgent(), 256)
	c.slot = pre.slot // given back when c is released
	c.startPings()
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("realtime: panic while connecting", "conn", c.id, "panic", p, "stack", string(debug.Stack()))
			c.closeWith(StatusInternal, "internal error")
			<-c.ctx.Done() // the writer has sent the close
			h.release(c, false, DisconnectEvent{})
			opened = nil
		}
		if opened == nil {
			h.connsWG.Done()
		}
	}()
	if !h.connect(c, r, token, pre) {
		return nil
	}
	return c
}
