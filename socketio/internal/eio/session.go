package eio

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// ErrClosed is returned by Send once the session is closed.
var ErrClosed = errors.New("eio: session closed")

type state int

const (
	stateOpen    state = iota
	stateClosing       // long-polling: the close packet waits for a GET
	stateClosed
)

// endMode says who ends a session and how.
type endMode int

const (
	// endGraceful: the server closes; a long-polling client gets what is
	// pending and a close packet, a WebSocket a close handshake.
	endGraceful endMode = iota
	// endAbort: the server drops the session (an error, a timeout); a
	// waiting poll gets a close packet.
	endAbort
	// endClient: the client closed; a waiting poll gets a noop.
	endClient
)

var (
	closeFrame = Frame{Data: []byte{TypeClose}}
	noopFrame  = Frame{Data: []byte{TypeNoop}}
	pingFrame  = Frame{Data: []byte{TypePing}}
)

// upgradeGrace is how long a GET that arrives during an upgrade waits for
// the upgrade packet.
const upgradeGrace = 100 * time.Millisecond

// Session is one Engine.IO connection, on long-polling or on a WebSocket.
// Its methods are safe for concurrent use.
type Session struct {
	id  string
	srv *Server
	req *http.Request
	h   Handler

	ctx    context.Context // ends when the session is closed
	cancel context.CancelFunc

	// wmu serializes writes to the WebSocket, and makes an upgrade's flush
	// of pending packets come before any later write.
	wmu sync.Mutex

	mu        sync.Mutex
	state     state
	reason    string
	ws        *websocket.Conn // the WebSocket transport, once in use
	raw       *wsConn         // ws's network connection, set with ws: data goes there
	upgrading bool            // a WebSocket is opening or probing to take over
	probe     *websocket.Conn // that WebSocket, once open
	probed    bool            // the upgrade's probe was answered

	// Long-polling.
	pending      []Frame // owned copies, waiting for a GET
	pendingBytes int64
	polling      bool          // a GET waits
	posting      bool          // a POST is being read
	wake         chan struct{} // wakes the waiting GET
	space        chan struct{} // closed when pending drains; nil unless a sender waits

	// Heartbeat: one timer, for the next ping or for the pong deadline.
	// Deadlines count from when the timer was due, not from when it ran.
	timer        *time.Timer
	timerGen     uint64
	timerAt      time.Time // when the timer is due
	awaitingPong bool
	pongDeadline time.Time
	linger       *time.Timer

	done chan struct{} // closed when the session is closed
}

func newSession(srv *Server, r *http.Request, ws *websocket.Conn, raw *wsConn) *Session {
	s := &Session{
		id:   newID(),
		srv:  srv,
		ws:   ws,
		raw:  raw,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// A shallow copy: net/http neither reuses nor changes a request's
	// header and URL once its handler returned, and a deep copy of them
	// cost an idle session about 900 bytes.
	s.req = r.WithContext(s.ctx)
	s.req.Body = http.NoBody
	return s
}

// ID returns the session id, the sid of the handshake.
func (s *Session) ID() string { return s.id }

// Request returns the request that opened the session, without its body.
// Its context ends when the session does.
func (s *Session) Request() *http.Request { return s.req }

// Done is closed when the session has closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// Transport returns "websocket" or "polling", the transport in use.
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ws != nil {
		return "websocket"
	}
	return "polling"
}

// Send sends frames in order. On long-polling it queues copies for the
// next GET, first waiting (within ctx) while a full batch is already
// waiting there; on a WebSocket it writes one message per frame.
func (s *Session) Send(ctx context.Context, frames ...Frame) error {
	s.mu.Lock()
	for s.state == stateOpen && s.ws == nil && s.pendingBytes >= s.srv.opts.MaxPayload {
		if s.space == nil {
			s.space = make(chan struct{})
		}
		space := s.space
		s.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.ws == nil {
		for _, f := range frames {
			s.pending = append(s.pending, Frame{Data: append([]byte(nil), f.Data...), Binary: f.Binary})
			s.pendingBytes += int64(len(f.Data))
		}
		s.signalLocked()
		s.mu.Unlock()
		return nil
	}
	raw := s.raw
	s.mu.Unlock()

	s.wmu.Lock()
	defer s.wmu.Unlock()
	// The session may have closed meanwhile; its WebSocket's close waits
	// for wmu, so nothing follows the close frame.
	s.mu.Lock()
	open := s.state == stateOpen
	s.mu.Unlock()
	if !open {
		return ErrClosed
	}
	if err := raw.writeMessages(ctx, frames); err != nil {
		s.end("transport error", endAbort)
		return err
	}
	return nil
}

// startHeartbeat schedules the first ping, once the open packet is out.
func (s *Session) startHeartbeat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateOpen && s.timer == nil {
		s.armLocked(time.Now().Add(s.srv.opts.PingInterval), false)
	}
}

// Close closes the session gracefully: a long-polling client collects
// what was sent before and a close packet (within the ping timeout), a
// WebSocket gets a close handshake.
func (s *Session) Close() { s.end("server close", endGraceful) }

// Abort closes the session at once.
func (s *Session) Abort() { s.end("server close", endAbort) }

func (s *Session) signalLocked() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// end leaves the open state, the first call only, and tells the handler.
func (s *Session) end(reason string, mode endMode) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.reason = reason
	if s.timer != nil {
		s.timer.Stop()
	}
	ws, up := s.ws, s.probe
	if ws == nil && (mode == endGraceful || mode == endClient && !s.polling) {
		// Keep the session for the client's next GETs, bounded by the
		// ping timeout (a live client polls at once). They get what is
		// pending and a close packet when the server closes, a noop when
		// the client did (its GET may have been sent with its close
		// packet and arrive second).
		if mode == endClient {
			s.pending = append(s.pending[:0], noopFrame)
		} else {
			s.pending = append(s.pending, closeFrame)
		}
		s.state = stateClosing
		s.linger = time.AfterFunc(s.srv.opts.PingTimeout, s.finishLinger)
		s.signalLocked()
		s.mu.Unlock()
		if up != nil {
			_ = up.CloseNow()
		}
		s.h.OnClose(reason)
		return
	}
	if ws == nil && s.polling {
		// An abort, or a client's close: the waiting GET ends it.
		last := closeFrame
		if mode == endClient {
			last = noopFrame
		}
		s.pending = append(s.pending[:0], last)
		s.signalLocked()
	}
	s.state = stateClosed
	s.mu.Unlock()
	s.finish(ws, up, mode)
	s.h.OnClose(reason)
}

// finish releases a closed session.
func (s *Session) finish(ws, up *websocket.Conn, mode endMode) {
	s.srv.remove(s)
	s.mu.Lock()
	if s.space != nil {
		close(s.space)
		s.space = nil
	}
	if s.linger != nil {
		s.linger.Stop()
	}
	s.mu.Unlock()
	s.cancel()
	close(s.done)
	if up != nil {
		_ = up.CloseNow()
	}
	if ws == nil {
		return
	}
	closeWS := func() {
		s.wmu.Lock() // after any write in progress: nothing follows the close frame
		defer s.wmu.Unlock()
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}
	if mode != endGraceful || !s.srv.goTracked(closeWS) {
		_ = ws.CloseNow()
	}
}

// finishLinger ends a graceful long-polling close whose close packet no
// GET collected in time.
func (s *Session) finishLinger() {
	s.mu.Lock()
	if s.state != stateClosing {
		s.mu.Unlock()
		return
	}
	s.state = stateClosed
	s.mu.Unlock()
	s.finish(nil, nil, endGraceful)
}

// armLocked schedules the heartbeat timer: the next ping, or the pong
// deadline when awaiting is set. s.mu is held.
func (s *Session) armLocked(at time.Time, awaiting bool) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timerGen++
	gen := s.timerGen
	s.awaitingPong = awaiting
	if awaiting {
		s.pongDeadline = at
	}
	s.timerAt = at
	s.timer = time.AfterFunc(time.Until(at), func() { s.onTimer(gen) })
}

func (s *Session) onTimer(gen uint64) {
	if !s.srv.track() {
		return
	}
	defer s.srv.wg.Done()
	s.mu.Lock()
	if gen != s.timerGen || s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	if s.awaitingPong {
		s.mu.Unlock()
		s.end("ping timeout", endAbort)
		return
	}
	s.armLocked(s.timerAt.Add(s.srv.opts.PingTimeout), true)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.ctx, s.srv.opts.PingTimeout)
	defer cancel()
	_ = s.Send(ctx, pingFrame)
}

// expiredLocked reports whether the pong is overdue, whatever the timer's
// punctuality. s.mu is held.
func (s *Session) expiredLocked() bool {
	return s.state == stateOpen && s.awaitingPong && time.Now().After(s.pongDeadline)
}

var errClientClose = errors.New("eio: client closed")

// onPacket handles one packet from the client's transport.
func (s *Session) onPacket(p Packet) error {
	switch p.Type {
	case TypeMessage:
		s.h.OnMessage(p.Data, p.Binary)
	case TypePong:
		s.mu.Lock()
		if s.state == stateOpen {
			s.armLocked(time.Now().Add(s.srv.opts.PingInterval), false)
		}
		s.mu.Unlock()
	case TypeClose:
		return errClientClose
	case TypeNoop:
	default: // open, ping (v4 servers ping, clients do not), upgrade
		return ErrPacketType
	}
	return nil
}

// refuseLocked answers a polling request with 400 and the Engine.IO error
// code (codeUnknownSID or codeBadRequest), after ending the session when
// abort names a reason. It releases s.mu, which the caller holds.
func (s *Session) refuseLocked(w http.ResponseWriter, code int, abort string) {
	s.mu.Unlock()
	if abort != "" {
		s.end(abort, endAbort)
	}
	message := "Bad request"
	if code == codeUnknownSID {
		message = "Session ID unknown"
	}
	httpError(w, http.StatusBadRequest, code, message)
}

// servePoll answers a long-polling GET with what is pending, waiting for
// something when nothing is.
func (s *Session) servePoll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	switch {
	case s.expiredLocked():
		s.refuseLocked(w, codeUnknownSID, "ping timeout")
		return
	case s.state == stateClosed && !s.polling && len(s.pending) == 0:
		s.refuseLocked(w, codeUnknownSID, "")
		return
	case s.ws != nil:
		s.refuseLocked(w, codeBadRequest, "")
		return
	case s.polling:
		// A client keeps one GET at a time; a second one ends the session.
		s.refuseLocked(w, codeBadRequest, "overlapping poll")
		return
	}
	s.polling = true
	// A GET waiting when the upgrade's WebSocket opens is released with a
	// noop as soon as the probe arrives, so that the client can pause
	// polling. One that arrives after the WebSocket opened was sent before
	// the client paused, or after it sent the upgrade packet: once probed,
	// it waits a moment for that packet, and gets 400 when the session
	// upgraded meanwhile, a noop otherwise (the reference server sends
	// such noops every 100 ms).
	arrivedUpgrading := s.upgrading
	var grace *time.Timer
	graceOver := false
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	for len(s.pending) == 0 && s.state == stateOpen && s.ws == nil {
		var graceC <-chan time.Time
		if s.probed {
			if !arrivedUpgrading || graceOver {
				break
			}
			if grace == nil {
				grace = time.NewTimer(upgradeGrace)
			}
			graceC = grace.C
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-graceC:
			graceOver = true
		case <-r.Context().Done():
			s.mu.Lock()
			s.polling = false
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
	}
	if s.ws != nil && arrivedUpgrading {
		s.polling = false
		s.mu.Unlock()
		httpError(w, http.StatusBadRequest, codeBadRequest, "Bad request")
		return
	}
	var out [][]byte
	var size int64
	n := 0
	for n < len(s.pending) && (n == 0 || size+int64(len(s.pending[n].Data)) <= s.srv.opts.MaxPayload) {
		out = append(out, appendPolling(nil, s.pending[n]))
		size += int64(len(s.pending[n].Data))
		n++
	}
	if n == 0 {
		// Woken by an upgrade, or by the end of the session.
		if s.state == stateOpen {
			out = [][]byte{noopFrame.Data}
		} else {
			out = [][]byte{closeFrame.Data}
		}
	}
	clear(s.pending[:n])
	s.pending = s.pending[n:]
	if len(s.pending) == 0 {
		s.pending = nil
	}
	s.pendingBytes -= size
	s.polling = false
	if s.space != nil && s.pendingBytes < s.srv.opts.MaxPayload {
		close(s.space)
		s.space = nil
	}
	drained := s.state == stateClosing && len(s.pending) == 0
	if drained {
		s.state = stateClosed
	}
	s.mu.Unlock()
	if drained {
		s.finish(nil, nil, endGraceful)
	}
	writePayload(w, out)
}

// servePost reads a long-polling POST and hands its packets over in order.
func (s *Session) servePost(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	switch {
	case s.expiredLocked():
		s.refuseLocked(w, codeUnknownSID, "ping timeout")
		return
	case s.state != stateOpen:
		s.refuseLocked(w, codeUnknownSID, "")
		return
	case s.ws != nil:
		s.refuseLocked(w, codeBadRequest, "")
		return
	case s.posting:
		s.refuseLocked(w, codeBadRequest, "overlapping post")
		return
	}
	s.posting = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.posting = false
		s.mu.Unlock()
	}()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.srv.opts.MaxPayload))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.end("payload too large", endAbort)
			httpError(w, http.StatusRequestEntityTooLarge, codeBadRequest, "Payload too large")
			return
		}
		s.end("transport error", endAbort)
		httpError(w, http.StatusBadRequest, codeBadRequest, "Bad request")
		return
	}
	err = DecodePayload(body, s.onPacket)
	switch {
	case errors.Is(err, errClientClose):
		s.end("transport close", endClient)
	case err != nil:
		s.end("parse error", endAbort)
		httpError(w, http.StatusBadRequest, codeBadRequest, "Bad request")
		return
	default:
		s.mu.Lock()
		open := s.state == stateOpen
		s.mu.Unlock()
		if !open { // the handler refused what was posted
			httpError(w, http.StatusBadRequest, codeBadRequest, "Bad request")
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "ok")
}

// readWebSocket reads the session's WebSocket until it closes.
func (s *Session) readWebSocket(ws *websocket.Conn) {
	for {
		typ, data, err := ws.Read(context.Background())
		if err != nil {
			reason := "transport error"
			if st := websocket.CloseStatus(err); st == websocket.StatusNormalClosure || st == websocket.StatusGoingAway {
				reason = "transport close"
			}
			s.end(reason, endClient)
			return
		}
		if typ == websocket.MessageBinary {
			s.h.OnMessage(data, true)
			continue
		}
		p, err := DecodePacket(data)
		if err == nil {
			err = s.onPacket(p)
		}
		switch {
		case errors.Is(err, errClientClose):
			s.end("transport close", endClient)
			return
		case err != nil:
			s.end("parse error", endAbort)
			return
		}
	}
}

// reserveUpgrade marks the session as upgrading before its WebSocket is
// accepted, so that a GET that follows the client's seeing the WebSocket
// open is known to come during the upgrade. It reports false when the
// session is not open to an upgrade: closed, upgraded or upgrading.
func (s *Session) reserveUpgrade() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen || s.ws != nil || s.upgrading {
		return false
	}
	s.upgrading = true
	return true
}

// abandonUpgrade clears an upgrade that failed; ws, when not nil, is its
// WebSocket, closed.
func (s *Session) abandonUpgrade(ws *websocket.Conn) {
	s.mu.Lock()
	if s.upgrading && s.probe == ws {
		s.upgrading, s.probe, s.probed = false, nil, false
		s.signalLocked()
	}
	s.mu.Unlock()
	if ws != nil {
		_ = ws.CloseNow()
	}
}

// upgrade moves a long-polling session, reserved by reserveUpgrade, onto
// ws: ws answers the client's "2probe" with "3probe" (a waiting GET is
// released with a noop so that the client can pause polling), and the
// client's "5" completes the upgrade, after which what was pending is
// written to ws first.
func (s *Session) upgrade(ws *websocket.Conn, raw *wsConn) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		s.abandonUpgrade(nil)
		_ = ws.CloseNow()
		return
	}
	s.probe = ws
	s.mu.Unlock()
	abandon := func() { s.abandonUpgrade(ws) }
	ctx, cancel := context.WithTimeout(s.ctx, s.srv.opts.UpgradeTimeout)
	defer cancel()
probe:
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil || typ != websocket.MessageText {
			abandon()
			return
		}
		switch string(data) {
		case "2probe":
			if err := ws.Write(ctx, websocket.MessageText, []byte("3probe")); err != nil {
				abandon()
				return
			}
			s.mu.Lock()
			s.probed = true
			s.signalLocked()
			s.mu.Unlock()
		case "5":
			break probe
		default:
			abandon()
			return
		}
	}

	s.wmu.Lock()
	s.mu.Lock()
	if s.state != stateOpen || s.probe != ws {
		s.mu.Unlock()
		s.wmu.Unlock()
		abandon()
		return
	}
	s.ws, s.raw, s.probe, s.upgrading = ws, raw, nil, false
	pending := s.pending
	s.pending, s.pendingBytes = nil, 0
	if s.space != nil {
		close(s.space)
		s.space = nil
	}
	s.signalLocked() // a GET still waiting gets a noop
	s.mu.Unlock()
	wctx, wcancel := context.WithTimeout(s.ctx, s.srv.opts.PingTimeout)
	_ = raw.writeMessages(wctx, pending)
	wcancel()
	s.wmu.Unlock()
	s.readOn(ws)
}

// readOn reads the session's WebSocket on a goroutine of its own, which
// Close waits for, so that the request's goroutine returns: net/http then
// drops what it kept for the request (its write buffer, the stack that
// parsing grew), which an idle session would otherwise hold for its life.
func (s *Session) readOn(ws *websocket.Conn) {
	if !s.srv.goTracked(func() { s.readWebSocket(ws) }) {
		s.end("server shutting down", endAbort)
	}
}
