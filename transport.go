package realtime

import (
	"context"
	"errors"
	"net/http"

	"github.com/coder/websocket"

	"github.com/realtime-go/realtime/internal/wire"
)

// Transport carries the frames of one client connection for the Hub. The
// native WebSocket of ServeHTTP is one; the Socket.IO bridge is another.
// Hub.ServeTransport runs a connection over any Transport, with the same
// events, rooms and rules.
//
// The Hub calls Read from one goroutine and Write, Close and Abort from
// another; Ping may run concurrently with both.
type Transport interface {
	// Read returns the next client frame: one JSON object of PROTOCOL.md
	// section 2. ErrUnsupportedFrame is answered with an invalid error and
	// the connection goes on; any other error ends it, and when the peer
	// closed with a code it is a *CloseError carrying that code.
	Read(ctx context.Context) ([]byte, error)
	// Write sends server objects, in order, in as few frames as the
	// transport allows. The objects are shared with other connections and
	// must not be modified or kept after Write returns.
	Write(ctx context.Context, objs [][]byte) error
	// Ping checks that the peer still answers.
	Ping(ctx context.Context) error
	// Close ends the connection with a close code, after what was written,
	// waiting a bounded time for the peer to acknowledge.
	Close(code StatusCode, reason string) error
	// Abort ends the connection at once.
	Abort()
}

// ErrUnsupportedFrame is returned by Transport.Read for a frame the protocol
// has no meaning for, such as a binary WebSocket message.
var ErrUnsupportedFrame = errors.New("realtime: unsupported frame")

// wsTransport is the native WebSocket transport: newline-batched JSON text
// frames (PROTOCOL.md section 2).
type wsTransport struct {
	ws  *websocket.Conn
	buf []byte // the frame being written; only Write touches it
}

func (t *wsTransport) Read(ctx context.Context) ([]byte, error) {
	typ, data, err := t.ws.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return nil, &CloseError{Code: StatusCode(ce.Code), Reason: ce.Reason}
		case errors.Is(err, websocket.ErrMessageTooBig):
			return nil, &CloseError{Code: StatusTooBig, Reason: "frame too big"}
		}
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, ErrUnsupportedFrame
	}
	return data, nil
}

// Write writes objs as newline-separated frames of about batchBytes each.
func (t *wsTransport) Write(ctx context.Context, objs [][]byte) error {
	defer func() {
		if cap(t.buf) > keepBufBytes {
			t.buf = nil // a burst grew it: idle connections stay small
		}
	}()
	for len(objs) > 0 {
		t.buf = t.buf[:0]
		n := 0
		for n < len(objs) && (n == 0 || len(t.buf)+len(objs[n]) < batchBytes) {
			if n > 0 {
				t.buf = append(t.buf, '\n')
			}
			t.buf = append(t.buf, objs[n]...)
			n++
		}
		objs = objs[n:]
		if err := t.ws.Write(ctx, websocket.MessageText, t.buf); err != nil {
			return err
		}
	}
	return nil
}

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
	token := requestToken(r)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{wire.Subprotocol},
		OriginPatterns: h.cfg.AllowedOrigins,
	})
	if err != nil {
		// Accept has written the response (403 for a foreign origin).
		h.log.Debug("realtime: upgrade refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	ws.SetReadLimit(h.cfg.MaxFrameBytes)
	h.ServeTransport(&wsTransport{ws: ws}, r, token)
}

// ServeTransport serves one client connection over t until it ends; r is
// the request that opened it (for hooks) and token the credential it
// carried, or "" to expect an auth event first. Transports other than the
// native WebSocket (the Socket.IO bridge) call it; it returns when the
// connection is closed and t released.
func (h *Hub) ServeTransport(t Transport, r *http.Request, token string) {
	h.connsWG.Add(1)
	defer h.connsWG.Done()
	if h.closing.Load() {
		_ = t.Close(StatusGoingAway, "server shutting down")
		return
	}
	c := newConn(h, t)
	c.wg.Add(1)
	go c.writeLoop()
	h.serve(c, r, token)
}
