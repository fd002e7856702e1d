package sio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/realtime-go/realtime/socketio/internal/eio"
)

// ConnectFunc is called when a client connects to a namespace, on the
// goroutine that read the CONNECT packet; auth is the packet's payload,
// {} when it had none. It must, now or later and from any goroutine, call
// s.Accept or s.Refuse, and it sets s's handlers with s.Handle before
// Accept.
type ConnectFunc func(s *Socket, auth json.RawMessage)

// Options configures a Server.
type Options struct {
	Engine eio.Options
	// ConnectTimeout is how long a session may stay without a namespace
	// before it is closed: after its handshake, and after its last
	// namespace is left or refused. Zero: 45s.
	ConnectTimeout time.Duration
	// Namespaces maps each namespace served ("/", "/admin") to its
	// ConnectFunc. A CONNECT to any other namespace is answered with
	// CONNECT_ERROR "Invalid namespace".
	Namespaces map[string]ConnectFunc
	// Logger receives diagnostics. Nil: discarded.
	Logger *slog.Logger
}

// Server serves Socket.IO over Engine.IO.
type Server struct {
	opts Options
	eio  *eio.Server
	log  *slog.Logger
}

// NewServer returns a Server for opts.
func NewServer(opts Options) *Server {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 45 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Engine.Logger == nil {
		opts.Engine.Logger = opts.Logger
	}
	s := &Server{opts: opts, log: opts.Logger}
	s.eio = eio.NewServer(opts.Engine, s.open)
	return s
}

// ServeHTTP serves the Engine.IO requests of the server's sessions.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eio.ServeHTTP(w, r) }

// Shutdown closes every session gracefully and waits for them, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error { return s.eio.Shutdown(ctx) }

// Close closes every session at once and waits for the server's goroutines.
func (s *Server) Close() { s.eio.Close() }

// Sessions returns the number of open Engine.IO sessions.
func (s *Server) Sessions() int { return s.eio.Len() }

func (s *Server) open(sess *eio.Session) eio.Handler {
	c := &client{srv: s, sess: sess, sockets: make(map[string]*Socket)}
	c.mu.Lock()
	c.armLocked()
	c.mu.Unlock()
	return c
}

// client is the Socket.IO side of one Engine.IO session.
type client struct {
	srv  *Server
	sess *eio.Session

	mu      sync.Mutex
	sockets map[string]*Socket // by namespace
	timer   *time.Timer        // connect timeout, while sockets is empty
	closed  bool

	// rmu serializes the decoding of incoming messages, which may arrive
	// from a POST and then from a WebSocket after an upgrade.
	rmu      sync.Mutex
	partial  *Packet  // a binary packet waiting for its attachments
	bins     [][]byte // its attachments so far
	binBytes int64
}

// armLocked starts the connect timeout; c.mu is held.
func (c *client) armLocked() {
	if c.timer != nil || c.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(c.srv.opts.ConnectTimeout, func() {
		c.mu.Lock()
		if c.timer != t {
			c.mu.Unlock()
			return // stopped meanwhile
		}
		c.timer = nil
		idle := len(c.sockets) == 0
		c.mu.Unlock()
		if idle {
			c.sess.Abort()
		}
	})
	c.timer = t
}

// OnMessage decodes a message packet of the session and dispatches it
// once its attachments, if any, have arrived. A malformed packet closes
// the session.
func (c *client) OnMessage(data []byte, binary bool) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if binary {
		if c.partial == nil {
			c.fail("unexpected binary attachment")
			return
		}
		c.bins = append(c.bins, data)
		c.binBytes += int64(len(data))
		if c.binBytes > c.srv.eio.MaxPayload() {
			c.fail("attachments too large")
			return
		}
		if len(c.bins) == c.partial.Attachments {
			p, bins := *c.partial, c.bins
			c.partial, c.bins, c.binBytes = nil, nil, 0
			c.dispatch(p, bins)
		}
		return
	}
	if c.partial != nil {
		c.fail("text packet before the attachments of a binary packet")
		return
	}
	p, err := Decode(data)
	if err != nil {
		c.fail(err.Error())
		return
	}
	if p.Attachments > 0 {
		c.partial = &p
		return
	}
	c.dispatch(p, nil)
}

func (c *client) fail(reason string) {
	c.srv.log.Debug("sio: closing session on a malformed packet", "sid", c.sess.ID(), "reason", reason)
	c.sess.Abort()
}

func (c *client) dispatch(p Packet, bins [][]byte) {
	switch p.Type {
	case TypeConnect:
		c.connect(p)
	case TypeDisconnect:
		if s := c.remove(p.Namespace, nil); s != nil {
			s.gone("client namespace disconnect")
		}
	case TypeEvent, TypeBinaryEvent:
		// Events of a namespace the client is not connected to are
		// ignored, as the reference server does.
		if s := c.socket(p.Namespace); s != nil {
			if h := s.eventHandler(); h != nil {
				h(Event{Name: p.Name(), Args: p.Args[1:], Binary: bins, ID: p.ID})
			}
		}
	case TypeAck, TypeBinaryAck:
		// The server never asks for acks.
	default:
		c.fail("unexpected packet type")
	}
}

func (c *client) connect(p Packet) {
	fn := c.srv.opts.Namespaces[p.Namespace]
	if fn == nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.writeTimeout())
		defer cancel()
		_ = c.send(ctx, Packet{Type: TypeConnectError, Namespace: p.Namespace, ID: -1, Data: json.RawMessage(`{"message":"Invalid namespace"}`)})
		return
	}
	c.mu.Lock()
	if c.closed || c.sockets[p.Namespace] != nil {
		c.mu.Unlock()
		return // already connected, or connecting, to it
	}
	s := &Socket{id: newID(), nsp: p.Namespace, c: c}
	c.sockets[p.Namespace] = s
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
	auth := p.Data
	if auth == nil {
		auth = json.RawMessage("{}")
	}
	s.auth = auth
	fn(s, auth)
}

func (c *client) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sockets[nsp]
}

// remove forgets the socket of nsp (when want is nil) or want itself, and
// starts the connect timeout when none is left. It returns the socket.
func (c *client) remove(nsp string, want *Socket) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sockets[nsp]
	if s == nil || (want != nil && s != want) {
		return nil
	}
	delete(c.sockets, nsp)
	if len(c.sockets) == 0 {
		c.armLocked()
	}
	return s
}

// OnClose ends every socket of the session.
func (c *client) OnClose(reason string) {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	sockets := c.sockets
	c.sockets = map[string]*Socket{}
	c.mu.Unlock()
	for _, s := range sockets {
		s.gone(reason)
	}
}

func (c *client) send(ctx context.Context, p Packet, bins ...[]byte) error {
	frames := make([]eio.Frame, 0, 1+len(bins))
	frames = append(frames, eio.Frame{Data: p.Append([]byte{eio.TypeMessage})})
	for _, b := range bins {
		frames = append(frames, eio.Frame{Data: b, Binary: true})
	}
	return c.sess.Send(ctx, frames...)
}

func (s *Server) writeTimeout() time.Duration { return s.eio.PingTimeout() }

// newID returns a random socket id of 20 URL-safe characters.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
