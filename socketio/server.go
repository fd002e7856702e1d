package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/httpx"
	"github.com/realtime-go/realtime/socketio/internal/eio"
	"github.com/realtime-go/realtime/socketio/internal/sio"
)

// Options configures a Server. The zero Options serves both transports on
// /socket.io/ with the Hub's origins, ping timings, frame limit and
// logger. Every field's comment says what its zero value means.
type Options struct {
	// Path is where the Server answers, with or without its trailing
	// slash; other paths get 404. Mount the Server on the same path.
	// Zero: "/socket.io/", the clients' default.
	Path string
	// Transports lists the transports offered, "polling" and/or
	// "websocket"; the handshake of a long-polling session offers the
	// upgrade only when "websocket" is listed. Zero: both.
	Transports []string
	// PingInterval is how often the server pings each session; the
	// client closes the connection when pings stop for PingInterval plus
	// PingTimeout. Zero: the Hub's Config.HeartbeatInterval (25s unless
	// set).
	PingInterval time.Duration
	// PingTimeout is how long a session may take to answer a ping before
	// it is closed. Zero: the Hub's Config.PingTimeout (20s unless set).
	PingTimeout time.Duration
	// ConnectTimeout is how long an Engine.IO session may stay without a
	// Socket.IO connection (a CONNECT packet) before it is closed. Zero:
	// 45s.
	ConnectTimeout time.Duration
	// MaxPayload caps one WebSocket message and one long-polling request
	// body, in bytes; more closes the session. It is announced to clients
	// in the handshake, and is the most a long-polling GET returns at
	// once (a single larger packet goes alone). Zero: the Hub's
	// Config.MaxFrameBytes (64 KiB unless set), so that Socket.IO and
	// native clients are bounded alike; the reference server's is
	// 1,000,000.
	MaxPayload int64
	// AllowedOrigins lists the origins that may connect from a browser
	// page of another origin, with the patterns of the Hub's
	// Config.AllowedOrigins ("example.com", "*.example.com",
	// "https://example.com"), matched as the Hub matches them. Requests
	// without an Origin header, and same-origin requests, always pass;
	// others get 403. Nil: the Hub's Config.AllowedOrigins.
	AllowedOrigins []string
	// Logger receives the bridge's diagnostics. Nil: the Hub's
	// Config.Logger.
	Logger *slog.Logger
}

const (
	defaultPath    = "/socket.io/"
	defaultConnect = 45 * time.Second
)

// withDefaults returns a copy of o with zero fields set, from the hub's
// Config where it has the same setting, or an error naming the first
// invalid field.
func (o Options) withDefaults(hub realtime.Config) (Options, error) {
	if o.AllowedOrigins == nil {
		o.AllowedOrigins = hub.AllowedOrigins
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = hub.MaxFrameBytes
	}
	if o.Logger == nil {
		o.Logger = hub.Logger
	}
	if o.Path == "" {
		o.Path = defaultPath
	}
	if !strings.HasPrefix(o.Path, "/") {
		return o, errors.New("socketio: invalid Options.Path: must start with /")
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{"polling", "websocket"}
	}
	for _, t := range o.Transports {
		if t != "polling" && t != "websocket" {
			return o, fmt.Errorf("socketio: invalid Options.Transports entry %q: want polling or websocket", t)
		}
	}
	for _, f := range []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"PingInterval", &o.PingInterval, hub.HeartbeatInterval},
		{"PingTimeout", &o.PingTimeout, hub.PingTimeout},
		{"ConnectTimeout", &o.ConnectTimeout, defaultConnect},
	} {
		if *f.d < 0 {
			return o, fmt.Errorf("socketio: invalid Options.%s", f.name)
		}
		if *f.d == 0 {
			*f.d = f.def
		}
	}
	if o.MaxPayload < 256 {
		return o, errors.New("socketio: invalid Options.MaxPayload: at least 256 bytes")
	}
	for _, p := range o.AllowedOrigins {
		if p == "" || p == "*" {
			return o, fmt.Errorf("socketio: invalid Options.AllowedOrigins entry %q: name the origins to allow", p)
		}
	}
	return o, nil
}

// Server is an http.Handler that serves Socket.IO clients from a Hub:
// Engine.IO v4 over long-polling and WebSocket, Socket.IO v5 on the main
// namespace "/". Each Socket.IO connection is one Hub connection, with
// the Hub's events, rooms, limits and hooks. All methods are safe for
// concurrent use.
type Server struct {
	hub  *realtime.Hub
	opts Options
	log  *slog.Logger
	sio  *sio.Server
	path string // Path without its trailing slash

	// mu guards closed and the start of conns, so that no Hub connection
	// starts once Close waits for conns.
	mu     sync.Mutex
	closed bool
	conns  sync.WaitGroup
}

// New returns a Server that serves hub's connections to Socket.IO
// clients, or an error naming the first invalid field of opts.
func New(hub *realtime.Hub, opts Options) (*Server, error) {
	if hub == nil {
		return nil, errors.New("socketio: nil Hub")
	}
	opts, err := opts.withDefaults(hub.Config())
	if err != nil {
		return nil, err
	}
	s := &Server{hub: hub, opts: opts, log: opts.Logger, path: strings.TrimSuffix(opts.Path, "/")}
	eo := eio.Options{
		PingInterval:   opts.PingInterval,
		PingTimeout:    opts.PingTimeout,
		MaxPayload:     opts.MaxPayload,
		AllowedOrigins: opts.AllowedOrigins,
		Logger:         opts.Logger,
		// The hub's limit per address, before a session costs anything;
		// its limits per user and on pending connections apply when the
		// session CONNECTs.
		Admit: hub.AdmitAddress,
	}
	for _, t := range opts.Transports {
		switch t {
		case "polling":
			eo.Polling = true
		case "websocket":
			eo.WebSocket = true
		}
	}
	s.sio = sio.NewServer(sio.Options{
		Engine:         eo,
		ConnectTimeout: opts.ConnectTimeout,
		Logger:         opts.Logger,
		Namespaces:     map[string]sio.ConnectFunc{"/": s.connect},
	})
	return s, nil
}

// ServeHTTP serves the Engine.IO requests of Options.Path: handshakes,
// polls and posts, WebSocket upgrades. Errors have the Engine.IO error
// body, such as 400 {"code":1,"message":"Session ID unknown"}; after
// Shutdown or Close, handshakes get 503.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := strings.TrimSuffix(r.URL.Path, "/"); p != s.path {
		http.NotFound(w, r)
		return
	}
	s.sio.ServeHTTP(w, r)
}

// Shutdown closes every session gracefully: long-polling clients collect
// what was sent to them and a close packet, WebSocket clients get a close
// handshake, and all of them reconnect by themselves (to another node,
// behind a load balancer). New sessions get 503. It waits until every
// session and its Hub connection have ended, or until ctx ends, when it
// closes the rest as Close does. Shut the Server down before the Hub.
// Calling it again, or after Close, returns nil.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.sio.Shutdown(ctx)
	s.wait()
	return err
}

// Close drops every session at once and waits for the Server's
// goroutines, its Hub connections included. Calling it again returns nil.
func (s *Server) Close() error {
	s.sio.Close()
	s.wait()
	return nil
}

func (s *Server) wait() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.conns.Wait()
}

// connect runs when a client connects to the main namespace: it starts a
// Hub connection for the socket, with the token of the CONNECT payload
// ({"token": "..."}), else of the handshake request's Authorization
// header or token query parameter (PROTOCOL.md section 1).
func (s *Server) connect(sock *sio.Socket, auth json.RawMessage) {
	token := authToken(auth)
	if token == "" {
		token = httpx.Token(sock.Request())
	}
	c := newConn(sock, s.log, s.conns.Done)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = sock.Refuse(ctx, "server shutting down", closeData(realtime.StatusGoingAway))
		return
	}
	s.conns.Add(1)
	s.mu.Unlock()
	if token == "" {
		// Without a token the Hub waits for an auth event (or, without an
		// Authenticator, accepts at once): the client may only send it
		// once connected.
		if err := c.accept(context.Background()); err != nil {
			s.conns.Done()
			return
		}
	}
	// The connection counts in s.conns until the Hub says it was served:
	// ServeTransport returns earlier, once the connection is idle.
	go s.hub.ServeTransport(c, sock.Request(), token)
}

// authToken returns the token of a CONNECT payload {"token": "..."}.
func authToken(auth json.RawMessage) string {
	var a struct {
		Token any `json:"token"`
	}
	if json.Unmarshal(auth, &a) != nil {
		return ""
	}
	t, _ := a.Token.(string)
	return t
}
