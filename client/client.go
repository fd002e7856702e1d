// Package client is a Go client for a realtime Hub, speaking protocol
// realtime.v1 over a WebSocket.
//
// A Client emits events and waits for their acks, receives pushes through a
// handler or a channel, and reconnects by itself after the connection drops,
// joining again the rooms it was in.
package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/wire"
)

// ErrClosed is returned by a Client's methods after Close, and after the
// hub refused the client for good (see Err).
var ErrClosed = errors.New("client: closed")

// ErrDisconnected is returned by Emit when the connection dropped before
// the ack arrived: the event may or may not have been handled.
var ErrDisconnected = errors.New("client: disconnected before the ack")

// The protocol versions a Client can speak (PROTOCOL.md).
const (
	// ProtocolV1 is realtime.v1, the default.
	ProtocolV1 = wire.Subprotocol
	// ProtocolV2 is realtime.v2: message pushes (new-message,
	// message-edited) carry no senderId, only sender.id. Decoding them
	// into a realtime.Message sets SenderID from sender.id.
	ProtocolV2 = wire.SubprotocolV2
)

// DialOptions configures Dial. The zero value connects without a token and
// reconnects with backoff between 100ms and 5s.
type DialOptions struct {
	// Token is sent as "Authorization: Bearer" with every connection.
	Token string
	// TokenFunc, when set, is called before every connection and its
	// result used instead of Token, so that reconnects use fresh tokens.
	TokenFunc func(ctx context.Context) (string, error)
	// Header is added to the upgrade request.
	Header http.Header
	// HTTPClient makes the upgrade request. Nil: http.DefaultClient.
	HTTPClient *http.Client

	// Compression offers permessage-deflate, without context takeover; the
	// hub uses it when its Config.Compression is on.
	Compression bool
	// Protocol is the protocol version to speak: ProtocolV1 (the default,
	// also for "") or ProtocolV2; dialling a hub that does not know
	// ProtocolV2 with it fails.
	Protocol string

	// NoReconnect turns automatic reconnection off: the client closes
	// when its connection drops.
	NoReconnect bool
	// MinBackoff and MaxBackoff bound the wait between reconnect attempts,
	// which doubles from MinBackoff after each failure. Zero: 100ms, 5s.
	MinBackoff, MaxBackoff time.Duration

	// OnEvent, when set, receives every server push on the client's read
	// goroutine, in order; it must not block for long. When nil, pushes go
	// to the channel returned by Events.
	OnEvent func(Event)
	// OnConnect, when set, is called after each (re)connection has been
	// accepted and its rooms joined again.
	OnConnect func(realtime.UserRef)
	// Logger receives reconnect diagnostics. Nil: slog.Default().
	Logger *slog.Logger
}

// Event is a server push.
type Event struct {
	Name string
	Data json.RawMessage
}

// Client is a connection to a Hub that reconnects by itself. Its methods
// are safe for concurrent use.
type Client struct {
	url  string
	opts DialOptions
	log  *slog.Logger

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the run goroutine ends

	mu      sync.Mutex
	sess    *session      // nil while disconnected
	ready   chan struct{} // closed when sess is set; replaced on loss
	nextAck uint64
	pending map[uint64]chan reply
	rooms   map[string]string // joined rooms: id -> last message id seen
	user    realtime.UserRef
	err     error // why the client stopped for good

	events *queue
}

type session struct {
	ws *websocket.Conn
}

type reply struct {
	data json.RawMessage
	err  error
}

// Dial connects to the hub at url (ws:// or wss://) and returns once the hub
// has accepted the connection (its connected event). ctx bounds this first
// connection only; later reconnects are bounded by Close.
func Dial(ctx context.Context, url string, opts DialOptions) (*Client, error) {
	switch opts.Protocol {
	case "":
		opts.Protocol = ProtocolV1
	case ProtocolV1, ProtocolV2:
	default:
		return nil, fmt.Errorf("client: unknown protocol %q", opts.Protocol)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	c := &Client{
		url:     url,
		opts:    opts,
		log:     opts.Logger,
		done:    make(chan struct{}),
		ready:   make(chan struct{}),
		pending: make(map[uint64]chan reply),
		rooms:   make(map[string]string),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if opts.OnEvent == nil {
		c.events = newQueue()
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	sess, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		if c.events != nil {
			c.events.close()
		}
		return nil, err
	}
	go c.run(sess)
	return c, nil
}

// connect opens one connection and waits for its connected event.
func (c *Client) connect(ctx context.Context) (*session, error) {
	h := http.Header{}
	for k, v := range c.opts.Header {
		h[k] = v
	}
	token := c.opts.Token
	if c.opts.TokenFunc != nil {
		t, err := c.opts.TokenFunc(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: token: %w", err)
		}
		token = t
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	mode := websocket.CompressionDisabled
	if c.opts.Compression {
		mode = websocket.CompressionNoContextTakeover
	}
	ws, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{
		HTTPClient:      c.opts.HTTPClient,
		HTTPHeader:      h,
		Subprotocols:    []string{c.opts.Protocol},
		CompressionMode: mode,
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("client: dial: %s: %w", resp.Status, err)
		}
		return nil, fmt.Errorf("client: dial: %w", err)
	}
	if c.opts.Protocol == ProtocolV2 && ws.Subprotocol() != ProtocolV2 {
		ws.Close(websocket.StatusProtocolError, "realtime.v2 expected")
		return nil, fmt.Errorf("client: the hub does not speak %s", ProtocolV2)
	}
	ws.SetReadLimit(8 << 20)
	s := &session{ws: ws}

	// The first push must be connected; anything else means refusal.
	_, frame, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		if code := websocket.CloseStatus(err); code != -1 {
			return nil, &CloseError{Code: realtime.StatusCode(code)}
		}
		return nil, fmt.Errorf("client: waiting for connected: %w", err)
	}
	var first []wire.ServerFrame
	if err := wire.DecodeServer(frame, func(f wire.ServerFrame) { first = append(first, f) }); err != nil || len(first) == 0 || first[0].Event != "connected" {
		ws.CloseNow()
		return nil, errors.New("client: the server did not send connected")
	}
	var connected struct {
		User realtime.UserRef `json:"user"`
	}
	_ = json.Unmarshal(first[0].Data, &connected)
	c.mu.Lock()
	c.user = connected.User
	c.mu.Unlock()
	for _, f := range first {
		c.dispatch(f)
	}
	return s, nil
}

// CloseError reports that the hub closed or refused the connection.
type CloseError struct {
	Code   realtime.StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("client: connection closed with %d %s", e.Code, e.Reason)
}

// run serves sessions one after another until Close or a final refusal.
func (c *Client) run(sess *session) {
	defer close(c.done)
	defer func() {
		if c.events != nil {
			c.events.close()
		}
	}()
	for {
		c.setSession(sess)
		type ending struct {
			code   websocket.StatusCode
			reason string
		}
		ended := make(chan ending, 1)
		go func() {
			code, reason := c.readLoop(sess)
			ended <- ending{code, reason}
		}()
		// Acks of the rejoin arrive through the read loop started above.
		c.rejoin(sess)
		if c.opts.OnConnect != nil {
			c.opts.OnConnect(c.User())
		}
		e := <-ended
		code, reason := e.code, e.reason
		c.dropSession(sess)
		if c.ctx.Err() != nil {
			return
		}
		if c.opts.NoReconnect || final(code, c.opts.TokenFunc != nil) {
			c.stop(&CloseError{Code: realtime.StatusCode(code), Reason: reason})
			return
		}
		var ok bool
		if sess, ok = c.reconnect(); !ok {
			return
		}
	}
}

// final reports whether a close code means reconnecting is pointless
// (realtime.StatusCode.Final); with a TokenFunc, 4001 is not: the next
// dial has a fresh token.
func final(code websocket.StatusCode, canRefresh bool) bool {
	c := realtime.StatusCode(code)
	return c.Final() && !(c == realtime.StatusUnauthorized && canRefresh)
}

func (c *Client) stop(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	c.cancel()
}

// reconnect dials with exponential backoff and jitter until it succeeds or
// the client closes.
func (c *Client) reconnect() (*session, bool) {
	wait := c.opts.MinBackoff
	for {
		jitter := time.Duration(rand.Int64N(int64(wait)/2 + 1))
		t := time.NewTimer(wait/2 + jitter)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return nil, false
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		sess, err := c.connect(ctx)
		cancel()
		if err == nil {
			return sess, true
		}
		var ce *CloseError
		if errors.As(err, &ce) && final(websocket.StatusCode(ce.Code), c.opts.TokenFunc != nil) {
			c.stop(err)
			return nil, false
		}
		c.log.Debug("client: reconnect failed", "err", err)
		wait = min(2*wait, c.opts.MaxBackoff)
	}
}

// rejoin joins again, on a new session, the rooms the client was in.
func (c *Client) rejoin(sess *session) {
	c.mu.Lock()
	rooms := make([]string, 0, len(c.rooms))
	for id := range c.rooms {
		rooms = append(rooms, id)
	}
	c.mu.Unlock()
	for _, id := range rooms {
		c.mu.Lock()
		req := map[string]string{"roomId": id}
		if since := c.rooms[id]; since != "" {
			req["since"] = since
		}
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		body, _ := json.Marshal(req)
		ack, err := c.emitOn(ctx, sess, "join-room", req, body)
		cancel()
		if err != nil {
			c.log.Debug("client: rejoin failed", "room", id, "err", err)
			var e *realtime.Error
			if errors.As(err, &e) {
				c.forgetRoom(id)
			}
			continue
		}
		var res struct {
			Missed    int  `json:"missed"`
			Recovered bool `json:"recovered"`
		}
		_ = json.Unmarshal(ack, &res)
		data, _ := json.Marshal(Rejoined{RoomID: id, Missed: res.Missed, Recovered: res.Recovered})
		c.deliver(Event{Name: EventRejoined, Data: data})
	}
}

// EventRejoined names the event the client itself delivers after joining a
// room again on a new connection; its data is a Rejoined. The hub never
// sends an event of that name.
const EventRejoined = "client:rejoined"

// Rejoined reports how a room was joined again after a reconnect. With
// Recovered, the messages missed while away were replayed as new-message
// events before any later one; without, some may be missing and the
// application should reload the room's history.
type Rejoined struct {
	RoomID    string `json:"roomId"`
	Missed    int    `json:"missed"`
	Recovered bool   `json:"recovered"`
}

func (c *Client) deliver(ev Event) {
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(ev)
	} else {
		c.events.push(ev)
	}
}

func (c *Client) setSession(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = s
	close(c.ready)
}

// dropSession fails the acks still pending on s.
func (c *Client) dropSession(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == s {
		c.sess = nil
		c.ready = make(chan struct{})
	}
	for id, ch := range c.pending {
		ch <- reply{err: ErrDisconnected}
		delete(c.pending, id)
	}
}

func (c *Client) readLoop(s *session) (websocket.StatusCode, string) {
	defer s.ws.CloseNow()
	for {
		_, frame, err := s.ws.Read(c.ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			return websocket.StatusAbnormalClosure, ""
		}
		if err := wire.DecodeServer(frame, c.dispatch); err != nil {
			c.log.Warn("client: undecodable frame from server", "err", err)
		}
	}
}

// dispatch routes one server object to its pending Emit or to the events.
func (c *Client) dispatch(f wire.ServerFrame) {
	if f.Ack != 0 {
		c.mu.Lock()
		ch := c.pending[f.Ack]
		delete(c.pending, f.Ack)
		c.mu.Unlock()
		if ch != nil {
			if f.Error != nil {
				ch <- reply{err: &realtime.Error{Code: realtime.Code(f.Error.Code), Message: f.Error.Message}}
			} else {
				ch <- reply{data: f.Data}
			}
		}
		return
	}
	switch f.Event {
	case "kicked", "room-deleted":
		var d struct {
			RoomID string `json:"roomId"`
		}
		if json.Unmarshal(f.Data, &d) == nil {
			c.forgetRoom(d.RoomID)
		}
	case "new-message":
		// The last message seen in each room is where a resume starts.
		var m struct {
			ID     string `json:"id"`
			RoomID string `json:"roomId"`
		}
		if json.Unmarshal(f.Data, &m) == nil && m.RoomID != "" {
			c.mu.Lock()
			if _, ok := c.rooms[m.RoomID]; ok {
				c.rooms[m.RoomID] = m.ID
			}
			c.mu.Unlock()
		}
	}
	c.deliver(Event{Name: f.Event, Data: f.Data})
}

func (c *Client) forgetRoom(id string) {
	c.mu.Lock()
	delete(c.rooms, id)
	c.mu.Unlock()
}

// Emit sends event with data (any value that encodes to a JSON object; nil
// for none) and waits for its ack. It returns the ack's data, or a
// *realtime.Error when the hub answered with an error. While the client is
// reconnecting, Emit waits for the new connection, up to ctx.
//
// A message without a clientMsgId gets a random one, which its ack echoes:
// a message refused as unavailable may have been stored all the same
// (PROTOCOL.md section 6), and sending the same data again with that
// clientMsgId cannot store it twice.
func (c *Client) Emit(ctx context.Context, event string, data any) (json.RawMessage, error) {
	body, err := encodeEvent(event, data) // once: a retry keeps its clientMsgId
	if err != nil {
		return nil, err
	}
	for {
		c.mu.Lock()
		sess, ready := c.sess, c.ready
		c.mu.Unlock()
		if sess != nil {
			return c.emitOn(ctx, sess, event, data, body)
		}
		select {
		case <-ready:
		case <-c.ctx.Done():
			return nil, c.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *Client) emitOn(ctx context.Context, sess *session, event string, data any, body []byte) (json.RawMessage, error) {
	ch := make(chan reply, 1)
	c.mu.Lock()
	c.nextAck++
	id := c.nextAck
	c.pending[id] = ch
	c.mu.Unlock()
	if err := sess.ws.Write(ctx, websocket.MessageText, wire.AppendClient(nil, event, body, id)); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("client: write: %w", err)
	}
	select {
	case r := <-ch:
		if r.err == nil {
			c.track(event, data, r.data)
		}
		return r.data, r.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// track remembers the rooms the client is in, to join them again after a
// reconnect.
func (c *Client) track(event string, data any, ack json.RawMessage) {
	var roomID string
	switch event {
	case "join-room", "create-room":
		var d struct {
			Room struct {
				ID string `json:"id"`
			} `json:"room"`
		}
		if json.Unmarshal(ack, &d) != nil {
			return
		}
		roomID = d.Room.ID
		c.mu.Lock()
		if _, ok := c.rooms[roomID]; !ok {
			c.rooms[roomID] = ""
		}
		c.mu.Unlock()
	case "leave-room", "delete-room":
		b, _ := json.Marshal(data)
		var d struct {
			RoomID string `json:"roomId"`
		}
		if json.Unmarshal(b, &d) == nil {
			c.forgetRoom(d.RoomID)
		}
	}
}

// Send sends event without asking for an ack: a failure comes back as an
// error event. A message gets a clientMsgId as with Emit.
func (c *Client) Send(ctx context.Context, event string, data any) error {
	body, err := encodeEvent(event, data)
	if err != nil {
		return err
	}
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess == nil {
		if err := c.Err(); err != nil {
			return err
		}
		return ErrDisconnected
	}
	return sess.ws.Write(ctx, websocket.MessageText, wire.AppendClient(nil, event, body, 0))
}

// encodeEvent encodes the data of event; a message without a clientMsgId
// gets a random one, added to the object's bytes without decoding it again
// when the object is one wire.Plain reads.
func encodeEvent(event string, data any) (json.RawMessage, error) {
	body, err := encodeData(data)
	if err != nil || event != "message" {
		return body, err
	}
	obj := bytes.TrimSpace(body)
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return body, nil // not an object: the hub answers invalid
	}
	p := wire.NewPlainEscapes(obj)
	var id []byte // the last clientMsgId, as the hub reads it
	for key, val, ok := p.Next(); ok; key, val, ok = p.Next() {
		if string(key) == "clientMsgId" {
			id = val
		}
	}
	switch {
	case p.Bad() || string(id) == "null" || string(id) == `""`:
		return addClientMsgID(body) // rare: through a map
	case id != nil:
		return body, nil
	}
	out := make([]byte, 0, len(obj)+48)
	out = append(out, obj[:len(obj)-1]...)
	if len(bytes.TrimSpace(obj[1:len(obj)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"clientMsgId":`...)
	out = wire.AppendString(out, newClientMsgID())
	return append(out, '}'), nil
}

// addClientMsgID gives the message body a new clientMsgId unless it has
// one, through a map: for objects wire.Plain does not read.
func addClientMsgID(body []byte) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return body, nil // not an object: the hub answers invalid
	}
	if id := fields["clientMsgId"]; len(id) > 0 && string(id) != "null" && string(id) != `""` {
		return body, nil
	}
	fields["clientMsgId"] = wire.AppendString(nil, newClientMsgID())
	return json.Marshal(fields)
}

func newClientMsgID() string { return "c_" + crand.Text() }

func encodeData(data any) ([]byte, error) {
	switch d := data.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return d, nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("client: encode data: %w", err)
	}
	return b, nil
}

// Events returns the channel of server pushes when DialOptions.OnEvent is
// nil. Pushes queue without bound until read; the channel is closed when
// the client closes.
func (c *Client) Events() <-chan Event {
	if c.events == nil {
		return nil
	}
	return c.events.out
}

// User returns the user the hub authenticated.
func (c *Client) User() realtime.UserRef {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user
}

// Err returns why the client stopped: ErrClosed after Close, a *CloseError
// when the hub refused it for good, nil while it runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// Done is closed when the client has stopped and released its goroutines.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close closes the connection with 1000 and stops reconnecting. It waits
// for the client's goroutines to end.
func (c *Client) Close() error {
	c.mu.Lock()
	sess := c.sess
	if c.err == nil {
		c.err = ErrClosed
	}
	c.mu.Unlock()
	if sess != nil {
		// Close performs the handshake while the read loop still reads.
		_ = sess.ws.Close(websocket.StatusNormalClosure, "")
	}
	c.cancel()
	<-c.done
	return nil
}

// Drop cuts the connection without a close handshake, as a network failure
// would; the client then reconnects as usual. It is meant for tests.
func (c *Client) Drop() {
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess != nil {
		sess.ws.CloseNow()
	}
}

// queue is an unbounded FIFO feeding a channel, so that a slow reader of
// Events never stalls the connection's read loop.
type queue struct {
	mu    sync.Mutex
	items []Event
	wake  chan struct{}
	done  chan struct{}
	once  sync.Once
	out   chan Event
}

func newQueue() *queue {
	q := &queue{wake: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan Event)}
	go q.pump()
	return q
}

func (q *queue) push(e Event) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close stops the queue; events not yet read are dropped.
func (q *queue) close() { q.once.Do(func() { close(q.done) }) }

func (q *queue) pump() {
	defer close(q.out)
	for {
		q.mu.Lock()
		items := q.items
		q.items = nil
		q.mu.Unlock()
		for _, e := range items {
			select {
			case q.out <- e:
			case <-q.done:
				return
			}
		}
		select {
		case <-q.wake:
		case <-q.done:
			return
		}
	}
}
