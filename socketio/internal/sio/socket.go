package sio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"github.com/realtime-go/realtime/socketio/internal/eio"
)

// ErrGone is returned when sending on a socket that has disconnected or
// was refused.
var ErrGone = errors.New("sio: socket disconnected")

// Event is an event a client emitted.
type Event struct {
	Name string
	// Args are the arguments after the name, as JSON; binary arguments are
	// placeholders {"_placeholder":true,"num":i} for Binary[i].
	Args   []json.RawMessage
	Binary [][]byte
	// ID is the ack id the client waits on, or -1.
	ID int64
}

type socketState int

const (
	socketPending socketState = iota
	socketConnected
	socketGone
)

// Socket is one client's connection to one namespace. Its methods are
// safe for concurrent use.
type Socket struct {
	id   string
	nsp  string
	c    *client
	auth json.RawMessage

	mu           sync.Mutex
	state        socketState
	onEvent      func(Event)
	onDisconnect func(reason string)
}

// ID returns the socket id sent in the CONNECT answer.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() string { return s.nsp }

// Request returns the request that opened the Engine.IO session.
func (s *Socket) Request() *http.Request { return s.c.sess.Request() }

// Transport returns the transport the session uses now.
func (s *Socket) Transport() string { return s.c.sess.Transport() }

// Handle sets the functions that receive the socket's events, on the
// session's reading goroutine, in order, and its disconnection (once, with
// the reason). Call it before Accept.
func (s *Socket) Handle(onEvent func(Event), onDisconnect func(reason string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onEvent, s.onDisconnect = onEvent, onDisconnect
}

// eventHandler returns the event handler of a connected socket.
func (s *Socket) eventHandler() func(Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != socketConnected {
		return nil
	}
	return s.onEvent
}

func (s *Socket) connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == socketConnected
}

// answer moves a socket whose CONNECT is unanswered to state; false when
// it was answered already.
func (s *Socket) answer(state socketState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != socketPending {
		return false
	}
	s.state = state
	return true
}

// Accept answers the client's CONNECT with the socket id. Events are
// delivered from then on.
func (s *Socket) Accept(ctx context.Context) error {
	if !s.answer(socketConnected) {
		return ErrGone
	}
	data, _ := json.Marshal(struct {
		SID string `json:"sid"`
	}{s.id})
	return s.c.send(ctx, Packet{Type: TypeConnect, Namespace: s.nsp, ID: -1, Data: data})
}

// Refuse answers the client's CONNECT with CONNECT_ERROR {message, data}
// (data omitted when nil) and forgets the socket, without calling its
// disconnect handler.
func (s *Socket) Refuse(ctx context.Context, message string, data json.RawMessage) error {
	if !s.answer(socketGone) {
		return ErrGone
	}
	s.c.remove(s.nsp, s)
	body, _ := json.Marshal(struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data,omitempty"`
	}{message, data})
	return s.c.send(ctx, Packet{Type: TypeConnectError, Namespace: s.nsp, ID: -1, Data: body})
}

// Emit sends an event with already-encoded arguments and their binary
// attachments.
func (s *Socket) Emit(ctx context.Context, name string, args []json.RawMessage, bins [][]byte) error {
	n, _ := json.Marshal(name)
	all := append([]json.RawMessage{n}, args...)
	return s.sendArgs(ctx, TypeEvent, TypeBinaryEvent, -1, all, bins)
}

// Ack answers the client's event id with arguments and attachments.
func (s *Socket) Ack(ctx context.Context, id int64, args []json.RawMessage, bins [][]byte) error {
	if args == nil {
		args = []json.RawMessage{}
	}
	return s.sendArgs(ctx, TypeAck, TypeBinaryAck, id, args, bins)
}

func (s *Socket) sendArgs(ctx context.Context, t, bt Type, id int64, args []json.RawMessage, bins [][]byte) error {
	if !s.connected() {
		return ErrGone
	}
	p := Packet{Type: t, Namespace: s.nsp, ID: id, Args: args}
	if len(bins) > 0 {
		p.Type, p.Attachments = bt, len(bins)
	}
	return s.c.send(ctx, p, bins...)
}

// Send sends frames already encoded as Engine.IO message packets of this
// socket's namespace, for callers that encode their own packets.
func (s *Socket) Send(ctx context.Context, frames ...eio.Frame) error {
	if !s.connected() {
		return ErrGone
	}
	return s.c.sess.Send(ctx, frames...)
}

// Disconnect sends DISCONNECT, forgets the socket and calls its disconnect
// handler. The session stays open for its other namespaces.
func (s *Socket) Disconnect(ctx context.Context) error {
	if !s.connected() {
		return ErrGone
	}
	err := s.c.send(ctx, Packet{Type: TypeDisconnect, Namespace: s.nsp, ID: -1})
	if s.c.remove(s.nsp, s) != nil {
		s.gone("server namespace disconnect")
	}
	return err
}

// CloseSession closes the socket's whole Engine.IO session gracefully;
// abort closes it at once. The client sees its transport close.
func (s *Socket) CloseSession(abort bool) {
	if abort {
		s.c.sess.Abort()
	} else {
		s.c.sess.Close()
	}
}

// SessionDone is closed when the socket's Engine.IO session has closed.
func (s *Socket) SessionDone() <-chan struct{} { return s.c.sess.Done() }

// gone marks the socket disconnected and calls its handler, once.
func (s *Socket) gone(reason string) {
	s.mu.Lock()
	was, h := s.state, s.onDisconnect
	s.state = socketGone
	s.mu.Unlock()
	if was != socketGone && h != nil {
		h(reason)
	}
}
