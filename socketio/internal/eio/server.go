// Package eio serves the Engine.IO protocol, version 4: the handshake,
// HTTP long-polling with \x1e-joined payloads, the WebSocket transport, the
// upgrade from the first to the second with its probe, server pings and the
// ping timeout. It knows nothing of Socket.IO: each session hands its
// message packets to a Handler.
package eio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/realtime-go/realtime/internal/wsraw"

	"github.com/realtime-go/realtime/internal/httpx"
)

// Options configures a Server. Zero durations and sizes take the defaults
// of the reference server, noted on each field.
type Options struct {
	// PingInterval is how often the server pings each session. Zero: 25s.
	PingInterval time.Duration
	// PingTimeout is how long a session may take to answer a ping before
	// it is closed. Zero: 20s.
	PingTimeout time.Duration
	// UpgradeTimeout bounds the upgrade of a long-polling session to a
	// WebSocket, from the WebSocket's opening to its upgrade packet.
	// Zero: 10s.
	UpgradeTimeout time.Duration
	// MaxPayload caps one WebSocket message and one long-polling request
	// body, in bytes, and is the size of the batches a long-polling GET
	// returns. Zero: 1,000,000.
	MaxPayload int64
	// Polling and WebSocket say which transports are offered; when both
	// are false, both are.
	Polling, WebSocket bool
	// AllowedOrigins lists the origins allowed to send cross-origin
	// requests, as patterns matched with path.Match against the origin's
	// host, or against "scheme://host" when the pattern holds "://".
	// Requests without Origin, and same-origin requests, always pass.
	AllowedOrigins []string
	// Logger receives diagnostics. Nil: discarded.
	Logger *slog.Logger
	// Admit, when set, runs before a new session is opened: an error
	// refuses it with 429 and the error's text; release runs once the
	// session has ended, or at once if it never opens.
	Admit func(r *http.Request) (release func(), err error)
}

func (o Options) withDefaults() Options {
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 20 * time.Second
	}
	if o.UpgradeTimeout <= 0 {
		o.UpgradeTimeout = 10 * time.Second
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 1_000_000
	}
	if !o.Polling && !o.WebSocket {
		o.Polling, o.WebSocket = true, true
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Handler receives what the client of one session sends. Its methods run
// on the goroutine that read the packet (a WebSocket's reader, or the
// request of a long-polling POST), one at a time per transport.
type Handler interface {
	// OnMessage receives a message packet's data. It may block, which
	// holds back the client's next packets. The session never reuses data.
	OnMessage(data []byte, binary bool)
	// OnClose is called once, when the session stops accepting packets;
	// reason says why ("transport close", "ping timeout", ...). It must
	// not call Session.Send, which may be waiting for it.
	OnClose(reason string)
}

// Server serves Engine.IO sessions over HTTP. Requests are routed to it
// by the caller, which owns the path.
type Server struct {
	opts Options
	open func(*Session) Handler
	log  *slog.Logger

	mu       sync.Mutex
	sessions map[string]*Session
	closing  bool // no new sessions
	done     bool // no new goroutines: Close waits for wg
	wg       sync.WaitGroup
}

// NewServer returns a Server that calls open for each new session, before
// its first packet, to get the session's Handler.
func NewServer(opts Options, open func(*Session) Handler) *Server {
	opts = opts.withDefaults()
	return &Server{opts: opts, open: open, log: opts.Logger, sessions: make(map[string]*Session)}
}

// The error codes of the Engine.IO server's JSON error bodies.
const (
	codeTransportUnknown = 0
	codeUnknownSID       = 1
	codeBadHandshake     = 2
	codeBadRequest       = 3
	codeForbidden        = 4
	codeUnsupported      = 5
)

// httpError answers a request with an Engine.IO error body, such as
// {"code":1,"message":"Session ID unknown"}.
func httpError(w http.ResponseWriter, status, code int, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, message})
	_, _ = w.Write(b)
}

// ServeHTTP serves one Engine.IO request: a handshake, a poll, a post, or
// a WebSocket with or without a session to upgrade.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !srv.cors(w, r) {
		httpError(w, http.StatusForbidden, codeForbidden, "Forbidden")
		return
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		httpError(w, http.StatusBadRequest, codeUnsupported, "Unsupported protocol version")
		return
	}
	transport := q.Get("transport")
	switch {
	case transport == "polling" && srv.opts.Polling:
	case transport == "websocket" && srv.opts.WebSocket:
	default:
		httpError(w, http.StatusBadRequest, codeTransportUnknown, "Transport unknown")
		return
	}
	if !srv.track() {
		httpError(w, http.StatusServiceUnavailable, codeBadRequest, "Server shutting down")
		return
	}
	defer srv.wg.Done()

	sid := q.Get("sid")
	var s *Session
	if sid != "" {
		srv.mu.Lock()
		s = srv.sessions[sid]
		srv.mu.Unlock()
		if s == nil {
			httpError(w, http.StatusBadRequest, codeUnknownSID, "Session ID unknown")
			return
		}
	}
	if s == nil && r.Method != http.MethodGet {
		httpError(w, http.StatusBadRequest, codeBadHandshake, "Bad handshake method")
		return
	}
	release := func() {}
	if s == nil && srv.opts.Admit != nil {
		rel, err := srv.opts.Admit(r)
		if err != nil {
			httpError(w, http.StatusTooManyRequests, codeForbidden, err.Error())
			return
		}
		release = rel
	}
	switch {
	case transport == "websocket":
		if r.Method != http.MethodGet {
			httpError(w, http.StatusBadRequest, codeBadHandshake, "Bad handshake method")
			return
		}
		srv.serveWebSocket(w, r, s, release)
	case s == nil:
		srv.handshakePolling(w, r, release)
	case r.Method == http.MethodGet:
		s.servePoll(w, r)
	case r.Method == http.MethodPost:
		s.servePost(w, r)
	default:
		httpError(w, http.StatusBadRequest, codeBadRequest, "Bad request")
	}
}

// cors checks the request's origin and, for an allowed cross-origin
// request, sets the CORS response headers. It reports whether the origin
// is allowed.
func (srv *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if !httpx.OriginAllowed(r, srv.opts.AllowedOrigins) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "86400")
	}
	return true
}

// track counts a goroutine that Close must wait for; it reports false once
// Close has begun, when the goroutine must not start.
func (srv *Server) track() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.done {
		return false
	}
	srv.wg.Add(1)
	return true
}

// goTracked runs fn on a goroutine that Close waits for, or not at all
// after Close.
func (srv *Server) goTracked(fn func()) bool {
	if !srv.track() {
		return false
	}
	go func() {
		defer srv.wg.Done()
		fn()
	}()
	return true
}

// newSession registers a session for the request that opened it; release
// runs when the session ends, or at once if it does not open.
func (srv *Server) newSession(r *http.Request, ws *websocket.Conn, raw *wsConn, release func()) (*Session, error) {
	s := newSession(srv, r, ws, raw)
	context.AfterFunc(s.ctx, release)
	srv.mu.Lock()
	closing := srv.closing
	srv.mu.Unlock()
	if closing {
		s.cancel()
		return nil, errClosing
	}
	s.h = srv.open(s)
	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		s.end("server shutting down", endAbort)
		return nil, errClosing
	}
	srv.sessions[s.id] = s
	srv.mu.Unlock()
	return s, nil
}

var errClosing = errors.New("eio: server shutting down")

func (srv *Server) remove(s *Session) {
	srv.mu.Lock()
	if srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
	}
	srv.mu.Unlock()
}

// handshake returns the open packet of a new session.
func (srv *Server) handshake(sid string, upgrades bool) Frame {
	ups := []string{}
	if upgrades {
		ups = []string{"websocket"}
	}
	b, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int64    `json:"maxPayload"`
	}{sid, ups, srv.opts.PingInterval.Milliseconds(), srv.opts.PingTimeout.Milliseconds(), srv.opts.MaxPayload})
	return Text(TypeOpen, string(b))
}

func (srv *Server) handshakePolling(w http.ResponseWriter, r *http.Request, release func()) {
	s, err := srv.newSession(r, nil, nil, release)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, codeBadRequest, "Server shutting down")
		return
	}
	writePayload(w, [][]byte{srv.handshake(s.id, srv.opts.WebSocket).Data})
	s.startHeartbeat()
}

// serveWebSocket accepts a WebSocket: a new session when s is nil, else
// an upgrade of s. release is that of a new session's admission.
func (srv *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, s *Session, release func()) {
	// The origin was checked by cors, with the same rule Accept applies.
	accept := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if s != nil && !s.reserveUpgrade() {
		// A session already on a WebSocket, or upgrading: the new one is
		// accepted and closed, as the reference server does.
		if ws, err := websocket.Accept(w, r, accept); err == nil {
			_ = ws.Close(websocket.StatusPolicyViolation, "session already upgraded")
		}
		return
	}
	hw := &wsraw.Hijacker{ResponseWriter: w}
	var rw http.ResponseWriter = hw
	if !wsraw.CanHijack(w) {
		rw = w // the library refuses it with 501
	}
	ws, err := websocket.Accept(rw, r, accept)
	if err != nil {
		srv.log.Debug("eio: websocket refused", "remote", r.RemoteAddr, "err", err)
		if s != nil {
			s.abandonUpgrade(nil)
		}
		release()
		return
	}
	ws.SetReadLimit(srv.opts.MaxPayload)
	if s != nil {
		s.upgrade(ws, &wsConn{Conn: hw.Conn})
		return
	}
	s, err = srv.newSession(r, ws, &wsConn{Conn: hw.Conn}, release)
	if err != nil {
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, srv.opts.PingTimeout)
	err = ws.Write(ctx, websocket.MessageText, srv.handshake(s.id, false).Data)
	cancel()
	if err != nil {
		s.end("transport error", endAbort)
		return
	}
	s.startHeartbeat()
	s.readOn(ws)
}

// writePayload answers a poll with packets joined by the separator.
func writePayload(w http.ResponseWriter, packets [][]byte) {
	n := len(packets)
	for _, p := range packets {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range packets {
		if i > 0 {
			b = append(b, separator)
		}
		b = append(b, p...)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", fmt.Sprint(len(b)))
	_, _ = w.Write(b)
}

// Shutdown refuses new sessions, closes every session gracefully (a
// long-polling client collects its close packet) and waits until they
// have ended, or until ctx ends, when it closes the rest as Close does.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closing = true
	sessions := srv.list()
	srv.mu.Unlock()
	for _, s := range sessions {
		s.end("server shutting down", endGraceful)
	}
	var err error
	for _, s := range sessions {
		select {
		case <-s.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	srv.Close()
	return err
}

// Close ends every session at once and waits for every goroutine of the
// server. Later requests get 503.
func (srv *Server) Close() {
	srv.mu.Lock()
	srv.closing, srv.done = true, true
	sessions := srv.list()
	srv.mu.Unlock()
	for _, s := range sessions {
		s.end("server shutting down", endAbort)
	}
	srv.wg.Wait()
}

// list returns the sessions; srv.mu is held.
func (srv *Server) list() []*Session {
	out := make([]*Session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		out = append(out, s)
	}
	return out
}

// Len returns the number of open sessions.
func (srv *Server) Len() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}

// newID returns a random session id of 20 URL-safe characters.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// MaxPayload returns the size limit of the server's messages.
func (srv *Server) MaxPayload() int64 { return srv.opts.MaxPayload }

// PingTimeout returns the server's ping timeout, which also bounds its
// own writes of control packets.
func (srv *Server) PingTimeout() time.Duration { return srv.opts.PingTimeout }
