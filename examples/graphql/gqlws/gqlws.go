// Package gqlws serves GraphQL over WebSocket with the graphql-transport-ws
// protocol (the one of the graphql-ws npm client), as a transport of a gqlgen
// handler, on github.com/coder/websocket. It follows the protocol's close
// codes: 4400 for an invalid message, 4401 for a subscribe before the
// connection was acknowledged, 4403 when authentication fails or the token
// expires, 4406 without the subprotocol, 4408 when connection_init does not
// come in time, 4409 for a second operation with an id in use, 4429 for a
// second connection_init.
package gqlws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Subprotocol is graphql-transport-ws's WebSocket subprotocol.
const Subprotocol = "graphql-transport-ws"

// Close codes of the protocol.
const (
	CloseBadRequest   websocket.StatusCode = 4400
	CloseUnauthorized websocket.StatusCode = 4401
	CloseForbidden    websocket.StatusCode = 4403
	CloseSubprotocol  websocket.StatusCode = 4406
	CloseInitTimeout  websocket.StatusCode = 4408
	CloseDuplicateID  websocket.StatusCode = 4409
	CloseTooManyInits websocket.StatusCode = 4429
)

// Transport is a gqlgen transport (graphql.Transport) for
// graphql-transport-ws.
type Transport struct {
	// Init authenticates a connection from its connection_init payload and
	// the upgrade request. It returns the context its operations run in,
	// and when that authentication expires (zero: never); an error closes
	// the connection with 4403.
	Init func(ctx context.Context, payload map[string]any, r *http.Request) (context.Context, time.Time, error)
	// OriginAllowed decides cross-origin upgrades. Nil: same origin only.
	OriginAllowed func(r *http.Request) bool
	// InitTimeout bounds the wait for connection_init. Zero: 3s.
	InitTimeout time.Duration
	// ReadLimit bounds a client message. Zero: 64 KiB.
	ReadLimit int64
}

var _ graphql.Transport = Transport{}

// Supports reports whether r asks for a WebSocket upgrade.
func (t Transport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Do serves one connection until it ends.
func (t Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if t.OriginAllowed != nil && !t.OriginAllowed(r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	ws, err := websocket.Accept(corking{w}, r, &websocket.AcceptOptions{
		Subprotocols:       []string{Subprotocol},
		InsecureSkipVerify: t.OriginAllowed != nil, // checked above
	})
	if err != nil {
		return
	}
	if ws.Subprotocol() != Subprotocol {
		ws.Close(CloseSubprotocol, "Subprotocol not acceptable")
		return
	}
	limit := t.ReadLimit
	if limit == 0 {
		limit = 64 << 10
	}
	ws.SetReadLimit(limit)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The connection ends with its context: writes need no context of
	// their own (one per write would cost a timer each), only the stall
	// timer that ends a connection whose reader stopped reading.
	stopClosing := context.AfterFunc(ctx, func() { ws.CloseNow() })
	defer stopClosing()
	stall := time.AfterFunc(time.Hour, cancel)
	stall.Stop()
	defer stall.Stop()
	c := &conn{t: t, ws: ws, exec: exec, r: r, ctx: ctx, cancel: cancel, stall: stall, ops: make(map[string]context.CancelFunc)}
	c.run()
}

type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

type conn struct {
	t      Transport
	ws     *websocket.Conn
	exec   graphql.GraphExecutor
	r      *http.Request
	ctx    context.Context // the connection's; after init, its authentication's
	cancel context.CancelFunc

	wmu   sync.Mutex  // orders writes
	stall *time.Timer // runs while a write waits: cancels the connection after writeTimeout
	frame []byte      // the buffer next messages are encoded in, under wmu

	mu     sync.Mutex
	inited bool // connection_init received
	acked  bool
	opCtx  context.Context
	ops    map[string]context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

func (c *conn) write(m message) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	c.writeRaw(b)
}

// appendNext appends the next message of the operation whose id is idJSON
// (encoded) carrying resp. A result with only data, as a subscription's
// events are, is written around the data, which is valid JSON already:
// encoding the response would check and copy it once more, for every
// subscriber of every event.
func appendNext(b, idJSON []byte, resp *graphql.Response) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = append(b, idJSON...)
	b = append(b, `,"type":"next","payload":`...)
	if len(resp.Errors) == 0 && len(resp.Extensions) == 0 && resp.HasNext == nil && resp.Path == nil && resp.Label == "" && len(resp.Data) > 0 {
		b = append(b, `{"data":`...)
		b = append(b, resp.Data...)
		b = append(b, '}')
	} else {
		payload, err := json.Marshal(resp)
		if err != nil {
			return b, err
		}
		b = append(b, payload...)
	}
	return append(b, '}'), nil
}

// writeNext writes the next message of the operation whose id is idJSON,
// encoded in the connection's buffer: the WebSocket copies it.
func (c *conn) writeNext(idJSON []byte, resp *graphql.Response) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b, err := appendNext(c.frame[:0], idJSON, resp)
	if err != nil {
		return err
	}
	c.frame = b
	c.writeLocked(b)
	if cap(c.frame) > 64<<10 {
		c.frame = nil // a big result's buffer is let go
	}
	return nil
}

// writeTimeout bounds a write: a client that reads nothing for that long
// is disconnected.
const writeTimeout = 10 * time.Second

// writeRaw writes one encoded message.
func (c *conn) writeRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.writeLocked(b)
}

// writeLocked writes one encoded message; the caller holds c.wmu.
func (c *conn) writeLocked(b []byte) {
	c.stall.Reset(writeTimeout)
	err := c.ws.Write(context.Background(), websocket.MessageText, b) // ends with c.ctx, see Do
	c.stall.Stop()
	if err != nil {
		c.cancel()
	}
}

func (c *conn) close(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	// The close handshake first: cancelling the reads first would drop the
	// connection without its close code.
	_ = c.ws.Close(code, reason)
	c.cancel()
}

func (c *conn) run() {
	defer func() {
		c.cancel()
		c.wg.Wait()
		c.ws.CloseNow()
	}()
	timeout := c.t.InitTimeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	initTimer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		late := !c.inited
		c.mu.Unlock()
		if late {
			c.close(CloseInitTimeout, "Connection initialisation timeout")
		}
	})
	defer initTimer.Stop()
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			c.close(CloseBadRequest, "Invalid message received")
			return
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
			c.close(CloseBadRequest, "Invalid message received")
			return
		}
		if !c.handle(m) {
			return
		}
	}
}

// handle runs one client message; false ends the connection.
func (c *conn) handle(m message) bool {
	switch m.Type {
	case "connection_init":
		c.mu.Lock()
		again := c.inited
		c.inited = true
		c.mu.Unlock()
		if again {
			c.close(CloseTooManyInits, "Too many initialisation requests")
			return false
		}
		var payload map[string]any
		if len(m.Payload) > 0 && string(m.Payload) != "null" && json.Unmarshal(m.Payload, &payload) != nil {
			c.close(CloseBadRequest, "Invalid connection_init payload")
			return false
		}
		opCtx, exp, err := c.t.Init(c.ctx, payload, c.r)
		if err != nil {
			c.close(CloseForbidden, "Forbidden")
			return false
		}
		if !exp.IsZero() {
			expire := time.AfterFunc(time.Until(exp), func() { c.close(CloseForbidden, "Forbidden: token expired") })
			context.AfterFunc(c.ctx, func() { expire.Stop() })
		}
		c.mu.Lock()
		c.acked, c.opCtx = true, opCtx
		c.mu.Unlock()
		c.write(message{Type: "connection_ack"})
	case "ping":
		c.write(message{Type: "pong", Payload: m.Payload})
	case "pong":
	case "subscribe":
		return c.subscribe(m)
	case "complete":
		c.mu.Lock()
		stop := c.ops[m.ID]
		c.mu.Unlock()
		if stop != nil {
			stop()
		}
	default:
		c.close(CloseBadRequest, "Invalid message received")
		return false
	}
	return true
}

func (c *conn) subscribe(m message) bool {
	if m.ID == "" {
		c.close(CloseBadRequest, "Invalid message received")
		return false
	}
	var params graphql.RawParams
	d := json.NewDecoder(bytes.NewReader(m.Payload))
	d.UseNumber() // variables keep their numbers exact, as gqlgen expects
	if err := d.Decode(&params); err != nil || params.Query == "" {
		c.close(CloseBadRequest, "Invalid message received")
		return false
	}
	c.mu.Lock()
	if !c.acked {
		c.mu.Unlock()
		c.close(CloseUnauthorized, "Unauthorized")
		return false
	}
	if _, dup := c.ops[m.ID]; dup {
		c.mu.Unlock()
		c.close(CloseDuplicateID, "Subscriber for "+m.ID+" already exists")
		return false
	}
	ctx, cancel := context.WithCancel(c.opCtx)
	c.ops[m.ID] = cancel
	c.wg.Add(1)
	c.mu.Unlock()
	params.Headers = c.r.Header
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.ops, m.ID)
			c.mu.Unlock()
			cancel()
		}()
		c.execute(ctx, m.ID, &params)
	}()
	return true
}

// execute runs one operation: next for each result, then complete, or
// error when the operation fails (for a subscription, also on the way).
func (c *conn) execute(ctx context.Context, id string, params *graphql.RawParams) {
	idJSON, err := json.Marshal(id)
	if err != nil {
		return
	}
	st := &Stream{c: c, idJSON: idJSON}
	ctx = context.WithValue(withErrors(ctx), streamKey{}, st)
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		c.sendErrors(id, errs)
		return
	}
	ctx = graphql.WithOperationContext(ctx, rc)
	responses, ctx := c.exec.DispatchOperation(ctx, rc)
	subscription := rc.Operation != nil && rc.Operation.Operation == ast.Subscription
	for {
		resp := responses(ctx)
		if resp == nil {
			break
		}
		if subscription && !st.wrote.Load() && len(resp.Errors) > 0 && (len(resp.Data) == 0 || string(resp.Data) == "null") {
			c.sendErrors(id, resp.Errors) // refused at subscribe time
			return
		}
		err := c.writeNext(idJSON, resp)
		st.written()
		if err != nil {
			break
		}
	}
	if errs := errorsOf(ctx); len(errs) > 0 {
		c.sendErrors(id, errs)
		return
	}
	if c.ctx.Err() == nil && ctx.Err() == nil {
		c.write(message{ID: id, Type: "complete"})
	}
}

// Stream lets a subscription's resolver write an event's result itself,
// without the executor, when it has it already: a result rendered once for
// many subscribers (the GraphQL example's graph.sharedEvent) then costs a
// subscriber one write. Results written so stay in order with those of the
// executor: the resolver writes once none of its events waits there. They
// skip the handler's response middleware (AroundResponses).
type Stream struct {
	c      *conn
	idJSON []byte
	wrote  atomic.Bool // a result was written

	mu     sync.Mutex
	queued int           // events handed to the executor, not written yet
	idle   chan struct{} // closed when queued drops to zero: every waiter goes on
}

type streamKey struct{}

// StreamOf returns the Stream of the operation ctx belongs to, or nil when
// it is not served by this transport.
func StreamOf(ctx context.Context) *Stream {
	st, _ := ctx.Value(streamKey{}).(*Stream)
	return st
}

// Queue records that an event is handed to the executor: call it before
// sending the event on the resolver's channel.
func (st *Stream) Queue() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.queued == 0 {
		st.idle = make(chan struct{})
	}
	st.queued++
}

// written records that the executor wrote a result: one of the queued
// events' (a query's or a mutation's was never queued).
func (st *Stream) written() {
	st.wrote.Store(true)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.queued > 0 {
		if st.queued--; st.queued == 0 {
			close(st.idle)
		}
	}
}

// WriteData writes data, a result's "data" as JSON, as the operation's
// next result, once the events handed to the executor are written. It
// returns ctx's error if ctx ends first. Several goroutines may feed one
// operation (a subscription to many rooms): each waits for the executor,
// not for the others, whose events come from other rooms.
func (st *Stream) WriteData(ctx context.Context, data []byte) error {
	for {
		st.mu.Lock()
		queued, idle := st.queued, st.idle
		st.mu.Unlock()
		if queued == 0 {
			break
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := st.c.writeNext(st.idJSON, &graphql.Response{Data: data})
	st.wrote.Store(true)
	return err
}

func (c *conn) sendErrors(id string, errs gqlerror.List) {
	b, err := json.Marshal(errs)
	if err == nil {
		c.write(message{ID: id, Type: "error", Payload: b})
	}
}

type errorsKey struct{}

type opErrors struct {
	mu   sync.Mutex
	errs gqlerror.List
}

func withErrors(ctx context.Context) context.Context {
	return context.WithValue(ctx, errorsKey{}, &opErrors{})
}

func errorsOf(ctx context.Context) gqlerror.List {
	if e, ok := ctx.Value(errorsKey{}).(*opErrors); ok {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.errs
	}
	return nil
}

// Fail records why a subscription ends early: once its resolver's channel
// is closed, the operation ends with an error message carrying err instead
// of complete. Call it before closing the channel.
func Fail(ctx context.Context, err error) {
	e, ok := ctx.Value(errorsKey{}).(*opErrors)
	if !ok {
		return
	}
	var gerr *gqlerror.Error
	if !errors.As(err, &gerr) {
		gerr = gqlerror.Wrap(err)
	}
	e.mu.Lock()
	e.errs = append(e.errs, gerr)
	e.mu.Unlock()
}
