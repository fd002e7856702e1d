package socketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/socketio"
	"github.com/realtime-go/realtime/socketio/internal/eio"
	"github.com/realtime-go/realtime/socketio/internal/sio"
)

// testSecret signs the tokens of the tests.
const testSecret = testenv.Secret

// env is a hub with its native WebSocket on /ws and the Socket.IO bridge
// on /socket.io/, served over a real loopback HTTP server.
type env struct {
	t    testing.TB
	hub  *realtime.Hub
	srv  *socketio.Server
	base string // http://127.0.0.1:port
	jwt  *realtime.JWT

	gets, posts atomic.Int64 // requests to /socket.io/
}

// newEnv starts a hub and a bridge. Unless cfg has an Authenticator,
// tokens signed with testSecret authenticate.
func newEnv(t testing.TB, cfg realtime.Config, opts socketio.Options) *env {
	t.Helper()
	j, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testSecret)})
	require.NoError(t, err)
	if cfg.Authenticator == nil {
		cfg.Authenticator = j
	}
	e := serveEnv(t, cfg, opts)
	e.jwt = j
	return e
}

// serveEnv starts a hub for cfg as it is (no Authenticator: development
// mode) and a bridge.
func serveEnv(t testing.TB, cfg realtime.Config, opts socketio.Options) *env {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	hub, err := realtime.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, hub.Close()) })
	srv, err := socketio.New(hub, opts)
	require.NoError(t, err)
	e := &env{t: t, hub: hub, srv: srv}
	mux := http.NewServeMux()
	mux.Handle("/ws", hub)
	mux.Handle("/socket.io/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			e.posts.Add(1)
		} else {
			e.gets.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	t.Cleanup(func() { require.NoError(t, srv.Close()) }) // first: it ends waiting polls
	e.base = hs.URL
	return e
}

// token returns a token for a user id that expires in an hour.
func (e *env) token(id string) string {
	e.t.Helper()
	tok, err := e.jwt.Sign(realtime.User{ID: id, Username: strings.ToUpper(id[:1]) + id[1:]}, time.Hour)
	require.NoError(e.t, err)
	return tok
}

// eioURL returns the Engine.IO URL of a transport, with extra query.
func (e *env) eioURL(transport string, query ...string) string {
	u := e.base + "/socket.io/?EIO=4&transport=" + transport
	for _, q := range query {
		u += "&" + q
	}
	if transport == "websocket" {
		u = "ws" + strings.TrimPrefix(u, "http")
	}
	return u
}

// native connects a Go client of the native protocol for user id.
func (e *env) native(id string) *nclient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/ws", client.DialOptions{Token: e.token(id)})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = c.Close() })
	n := &nclient{t: e.t, Client: c}
	n.next("connected")
	return n
}

// nclient is a native Go client with test assertions.
type nclient struct {
	t testing.TB
	*client.Client
}

func (c *nclient) emit(event string, data any) json.RawMessage {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Emit(ctx, event, data)
	require.NoError(c.t, err, "%s", event)
	return ack
}

func (c *nclient) next(name string) json.RawMessage {
	c.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			require.True(c.t, ok, "client closed while waiting for %s", name)
			if ev.Name == name {
				return ev.Data
			}
		case <-timeout:
			c.t.Fatalf("native: no %s event within 5s", name)
		}
	}
}

// dialOpts says how a test Socket.IO client connects.
type dialOpts struct {
	transport string          // "websocket" (default) or "polling"
	auth      json.RawMessage // CONNECT payload; nil sends none
	header    http.Header     // on every request
	query     []string        // "k=v", on every request
	upgrade   bool            // polling, then upgrade to WebSocket
	nsp       string          // namespace; "" is "/"
	manual    bool            // polling: no GET loop, the test polls
}

// sclient is a Socket.IO client of one namespace for the tests, written
// against the Engine.IO and Socket.IO codecs: it answers pings, routes acks
// to their emitters and events to a channel.
type sclient struct {
	t    testing.TB
	e    *env
	opts dialOpts
	sid  string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	wmu    sync.Mutex // one POST at a time; ordered WebSocket writes
	mu     sync.Mutex
	ws     *websocket.Conn // nil on long-polling
	acks   map[int64]chan json.RawMessage
	nextID int64

	control chan sio.Packet // CONNECT, CONNECT_ERROR, DISCONNECT
	events  chan sevent     // events of the namespace
	raw     chan eio.Packet // every Engine.IO packet, for tests that look
	closed  chan struct{}   // the session ended
	ended   sync.Once
}

type sevent struct {
	Name string
	Data json.RawMessage
}

// dialSIO connects and requires the namespace's CONNECT to be accepted.
func (e *env) dialSIO(o dialOpts) *sclient {
	e.t.Helper()
	c, refused := e.trySIO(o)
	require.Nil(e.t, refused, "CONNECT refused: %s", refused)
	return c
}

// sio connects user id over a transport with its token in auth and reads
// its connected event.
func (e *env) sio(id, transport string) *sclient {
	e.t.Helper()
	c := e.dialSIO(dialOpts{transport: transport, auth: json.RawMessage(`{"token":"` + e.token(id) + `"}`)})
	c.next("connected")
	return c
}

// trySIO connects and returns the CONNECT_ERROR payload when refused.
func (e *env) trySIO(o dialOpts) (*sclient, json.RawMessage) {
	e.t.Helper()
	c := e.open(o)
	c.send(sio.Packet{Type: sio.TypeConnect, Namespace: c.nsp(), ID: -1, Data: o.auth})
	p := c.nextControl()
	switch p.Type {
	case sio.TypeConnect:
		var d struct{ SID string }
		require.NoError(e.t, json.Unmarshal(p.Data, &d))
		require.NotEmpty(e.t, d.SID)
		return c, nil
	case sio.TypeConnectError:
		return c, p.Data
	}
	e.t.Fatalf("unexpected answer to CONNECT: %s", p.Append(nil))
	return nil, nil
}

// open opens an Engine.IO session and starts reading it.
func (e *env) open(o dialOpts) *sclient {
	e.t.Helper()
	if o.transport == "" {
		o.transport = "websocket"
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &sclient{
		t: e.t, e: e, opts: o, ctx: ctx, cancel: cancel,
		acks:    make(map[int64]chan json.RawMessage),
		control: make(chan sio.Packet, 16),
		events:  make(chan sevent, 1024),
		raw:     make(chan eio.Packet, 1024),
		closed:  make(chan struct{}),
	}
	e.t.Cleanup(c.close)
	if o.transport == "websocket" {
		c.dialWS("")
		c.wg.Add(1)
		go c.readWS()
		return c
	}
	body := c.get(http.StatusOK)
	require.True(e.t, strings.HasPrefix(body, "0"), "handshake %q", body)
	var hs struct{ SID string }
	require.NoError(e.t, json.Unmarshal([]byte(body[1:]), &hs))
	c.sid = hs.SID
	switch {
	case o.upgrade:
		c.upgrade()
	case !o.manual:
		c.wg.Add(1)
		go c.poll()
	}
	return c
}

func (c *sclient) nsp() string {
	if c.opts.nsp == "" {
		return "/"
	}
	return c.opts.nsp
}

func (c *sclient) url(transport string) string {
	q := append([]string(nil), c.opts.query...)
	if c.sid != "" {
		q = append(q, "sid="+url.QueryEscape(c.sid))
	}
	return c.e.eioURL(transport, q...)
}

// dialWS opens the WebSocket; without a session it reads the handshake.
func (c *sclient) dialWS(sid string) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, c.url("websocket"), &websocket.DialOptions{HTTPHeader: c.opts.header})
	require.NoError(c.t, err)
	ws.SetReadLimit(-1)
	c.mu.Lock()
	c.ws = ws
	c.mu.Unlock()
	if c.sid != "" {
		return
	}
	_, data, err := ws.Read(ctx)
	require.NoError(c.t, err)
	require.Equal(c.t, byte('0'), data[0], "%s", data)
	var hs struct{ SID string }
	require.NoError(c.t, json.Unmarshal(data[1:], &hs))
	c.sid = hs.SID
}

// upgrade moves a polling session to a WebSocket with the probe exchange.
func (c *sclient) upgrade() {
	c.dialWS(c.sid)
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageText, []byte("2probe")))
	_, data, err := c.ws.Read(ctx)
	require.NoError(c.t, err)
	require.Equal(c.t, "3probe", string(data))
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageText, []byte("5")))
	c.wg.Add(1)
	go c.readWS()
}

// get makes one long-polling GET and requires its status.
func (c *sclient) get(status int) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	code, body, err := c.request(ctx, http.MethodGet, "")
	require.NoError(c.t, err)
	require.Equal(c.t, status, code, "GET: %s", body)
	return body
}

func (c *sclient) request(ctx context.Context, method, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url("polling"), strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	for k, v := range c.opts.header {
		req.Header[k] = v
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// poll runs the GET loop of a long-polling session.
func (c *sclient) poll() {
	defer c.wg.Done()
	defer c.end()
	for c.ctx.Err() == nil {
		code, body, err := c.request(c.ctx, http.MethodGet, "")
		if err != nil || code != http.StatusOK {
			return
		}
		var stop bool
		_ = eio.DecodePayload([]byte(body), func(p eio.Packet) error {
			stop = stop || !c.handle(p)
			return nil
		})
		if stop {
			return
		}
	}
}

func (c *sclient) readWS() {
	defer c.wg.Done()
	defer c.end()
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		p := eio.Packet{Type: eio.TypeMessage, Data: data, Binary: true}
		if typ == websocket.MessageText {
			if p, err = eio.DecodePacket(data); err != nil {
				c.t.Errorf("bad packet from server: %q", data)
				return
			}
		}
		if !c.handle(p) {
			return
		}
	}
}

func (c *sclient) end() { c.ended.Do(func() { close(c.closed) }) }

// handle takes one Engine.IO packet; it reports false when the session
// ended.
func (c *sclient) handle(p eio.Packet) bool {
	select {
	case c.raw <- p:
	default:
	}
	switch p.Type {
	case eio.TypePing:
		go c.write("3")
	case eio.TypeClose:
		return false
	case eio.TypeMessage:
		if p.Binary {
			return true
		}
		sp, err := sio.Decode(p.Data)
		if err != nil {
			c.t.Errorf("bad Socket.IO packet from server: %q", p.Data)
			return false
		}
		if sp.Namespace != c.nsp() {
			return true
		}
		switch sp.Type {
		case sio.TypeEvent:
			ev := sevent{Name: sp.Name()}
			if len(sp.Args) > 1 {
				ev.Data = sp.Args[1]
			}
			c.events <- ev
		case sio.TypeAck:
			c.mu.Lock()
			ch := c.acks[sp.ID]
			delete(c.acks, sp.ID)
			c.mu.Unlock()
			if ch != nil && len(sp.Args) == 1 {
				ch <- sp.Args[0]
			}
		default:
			c.control <- sp
		}
	}
	return true
}

// write sends one Engine.IO text packet on the transport in use.
func (c *sclient) write(packet string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		return ws.Write(ctx, websocket.MessageText, []byte(packet))
	}
	code, body, err := c.request(ctx, http.MethodPost, packet)
	if err == nil && (code != http.StatusOK || body != "ok") {
		err = fmt.Errorf("POST: %d %s", code, body)
	}
	return err
}

// send sends a Socket.IO packet.
func (c *sclient) send(p sio.Packet) {
	c.t.Helper()
	require.NoError(c.t, c.write(string(p.Append([]byte{eio.TypeMessage}))))
}

// emitRaw emits event with data (nil for none) and returns the ack's one
// argument: {"data":...} or {"error":{...}}.
func (c *sclient) emitRaw(event string, data any) json.RawMessage {
	c.t.Helper()
	args := []json.RawMessage{mustJSON(c.t, event)}
	if data != nil {
		args = append(args, mustJSON(c.t, data))
	}
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.acks[id] = ch
	c.mu.Unlock()
	c.send(sio.Packet{Type: sio.TypeEvent, Namespace: c.nsp(), ID: id, Args: args})
	select {
	case a := <-ch:
		return a
	case <-time.After(5 * time.Second):
		c.t.Fatalf("no ack for %s within 5s", event)
	}
	return nil
}

// emit emits event with an ack and requires success; it returns the data.
func (c *sclient) emit(event string, data any) json.RawMessage {
	c.t.Helper()
	var a struct {
		Data  json.RawMessage
		Error *realtime.Error
	}
	raw := c.emitRaw(event, data)
	require.NoError(c.t, json.Unmarshal(raw, &a))
	require.Nil(c.t, a.Error, "%s: %s", event, raw)
	return a.Data
}

// emitErr emits event with an ack and requires an error with code.
func (c *sclient) emitErr(code realtime.Code, event string, data any) {
	c.t.Helper()
	var a struct{ Error *realtime.Error }
	raw := c.emitRaw(event, data)
	require.NoError(c.t, json.Unmarshal(raw, &a))
	require.NotNil(c.t, a.Error, "%s: %s", event, raw)
	require.Equal(c.t, code, a.Error.Code, "%s", raw)
}

// emitNoAck emits event without an ack.
func (c *sclient) emitNoAck(event string, data any) {
	c.t.Helper()
	c.send(sio.Packet{Type: sio.TypeEvent, Namespace: c.nsp(), ID: -1, Args: []json.RawMessage{mustJSON(c.t, event), mustJSON(c.t, data)}})
}

// next returns the data of the next event named name, skipping others.
func (c *sclient) next(name string) json.RawMessage {
	c.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-c.events:
			if ev.Name == name {
				return ev.Data
			}
		case <-timeout:
			c.t.Fatalf("socket.io: no %s event within 5s", name)
		}
	}
}

// nextControl returns the next CONNECT, CONNECT_ERROR or DISCONNECT.
func (c *sclient) nextControl() sio.Packet {
	c.t.Helper()
	select {
	case p := <-c.control:
		return p
	case <-c.closed:
		c.t.Fatal("session closed while waiting for a control packet")
	case <-time.After(5 * time.Second):
		c.t.Fatal("no control packet within 5s")
	}
	return sio.Packet{}
}

// waitClosed requires the session to end within d.
func (c *sclient) waitClosed(d time.Duration) {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(d):
		c.t.Fatalf("session still open after %s", d)
	}
}

// close ends the client and waits for its goroutines.
func (c *sclient) close() {
	c.cancel()
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		ws.CloseNow()
	}
	c.wg.Wait()
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	if b, ok := v.(json.RawMessage); ok {
		return b
	}
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// eventually polls cond until it holds, within 5s.
func eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 5*time.Millisecond, msg)
}

// httpDo makes a request and returns its status, headers and body.
func httpDo(t testing.TB, method, u, body string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}
