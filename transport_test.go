package realtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
)

// chanTransport is a Transport over Go channels: neither a WebSocket nor
// Socket.IO, as a third transport (Server-Sent Events, GraphQL over
// WebSocket) would be. It reads the typed frames the Hub writes, never
// their native encoding.
type chanTransport struct {
	in   chan []byte
	out  chan written
	done chan struct{}
	once sync.Once
}

// written is what the transport kept of a Frame: its parts, copied.
type written struct {
	kind    realtime.FrameKind
	event   string
	ack     uint64
	data    string
	err     *realtime.Error
	accepts bool
}

func newChanTransport() *chanTransport {
	return &chanTransport{in: make(chan []byte), out: make(chan written, 64), done: make(chan struct{})}
}

func (t *chanTransport) Read(ctx context.Context) ([]byte, error) {
	select {
	case b := <-t.in:
		return b, nil
	case <-t.done:
		return nil, &realtime.CloseError{Code: realtime.StatusNormal, Reason: "client left"}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *chanTransport) Write(ctx context.Context, frames []realtime.Frame) error {
	for _, f := range frames {
		w := written{kind: f.Kind(), event: f.Event(), ack: f.Ack(), data: string(f.Data()), err: f.Err(), accepts: f.Accepts()}
		select {
		case t.out <- w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (t *chanTransport) Ping(context.Context) error { return nil }

func (t *chanTransport) Close(realtime.StatusCode, string) error { t.Abort(); return nil }

func (t *chanTransport) Abort() { t.once.Do(func() { close(t.done) }) }

func (t *chanTransport) send(event string, data any, ack uint64) {
	b, _ := json.Marshal(map[string]any{"event": event, "data": data, "ack": ack})
	t.in <- b
}

// next returns the next frame the hub wrote that matches keep.
func (t *chanTransport) next(tb testing.TB, keep func(written) bool) written {
	tb.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case w := <-t.out:
			if keep(w) {
				return w
			}
		case <-timeout:
			tb.Fatal("no such frame within 5s")
		}
	}
}

// TestThirdTransport: a Transport that is neither WebSocket nor Socket.IO
// serves a connection with the same events and rules, in the same rooms as
// native clients, from typed frames alone.
func TestThirdTransport(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice := env.dial("alice")
	room := alice.createRoom("mixed", nil)

	tr := newChanTransport()
	served := make(chan struct{})
	go func() {
		defer close(served)
		env.hub.ServeTransport(tr, httptest.NewRequest("GET", "/sse", nil), env.token("bob"))
	}()
	connected := tr.next(t, func(written) bool { return true })
	require.Equal(t, realtime.FramePush, connected.kind)
	require.Equal(t, "connected", connected.event)
	require.True(t, connected.accepts, "the first push accepts the connection")

	tr.send("join-room", map[string]string{"roomId": room.ID}, 1)
	joined := tr.next(t, func(w written) bool { return w.ack == 1 })
	require.Equal(t, realtime.FrameReply, joined.kind)
	require.Contains(t, joined.data, `"name":"mixed"`)

	alice.emit("message", map[string]any{"roomId": room.ID, "content": `from "native" é 👋`})
	alice.next("new-message") // her own
	msg := tr.next(t, func(w written) bool { return w.event == "new-message" })
	var m realtime.Message
	require.NoError(t, json.Unmarshal([]byte(msg.data), &m))
	require.Equal(t, `from "native" é 👋`, m.Content)

	tr.send("message", map[string]any{"roomId": room.ID, "content": "from channels"}, 2)
	require.Equal(t, realtime.FrameReply, tr.next(t, func(w written) bool { return w.ack == 2 }).kind)
	require.Equal(t, "from channels", testenv.DecodeInto[realtime.Message](t, alice.next("new-message")).Content)

	tr.send("join-room", map[string]string{"roomId": "r_missing"}, 3)
	failed := tr.next(t, func(w written) bool { return w.ack == 3 })
	require.Equal(t, realtime.FrameError, failed.kind)
	require.Equal(t, realtime.CodeNotFound, failed.err.Code)

	tr.Abort()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("ServeTransport did not return after the transport ended")
	}
}

// TestUpgradeLeavesWithConnected: with a token on the upgrade, the 101
// response and the connected frame reach the client in one piece (one
// write, where there were two); a client that authenticates with an auth
// event gets the 101 at once, before it has said anything.
func TestUpgradeLeavesWithConnected(t *testing.T) {
	for _, compression := range []bool{false, true} { // the hub writing its frames, and the library
		t.Run(fmt.Sprintf("compression=%v", compression), func(t *testing.T) { testUpgradeLeavesWithConnected(t, compression) })
	}
}

func testUpgradeLeavesWithConnected(t *testing.T, compression bool) {
	env := newTestHub(t, realtime.Config{Compression: compression})
	upgrade := func(header string) (*http.Response, *bufio.Reader) {
		c, err := net.Dial("tcp", strings.TrimPrefix(env.url, "ws://"))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
			"Sec-WebSocket-Protocol: realtime.v1\r\n%s\r\n", header)
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
		require.Equal(t, "realtime.v1", resp.Header.Get("Sec-WebSocket-Protocol"))
		require.Equal(t, "websocket", resp.Header.Get("Upgrade"))
		return resp, br
	}

	_, br := upgrade("Authorization: Bearer " + env.token("ann") + "\r\n")
	require.Positive(t, br.Buffered(), "connected came apart from the 101")
	frame := make([]byte, br.Buffered())
	_, err := io.ReadFull(br, frame)
	require.NoError(t, err)
	require.Contains(t, string(frame), `{"event":"connected"`)

	_, br = upgrade("") // no token: the client speaks first
	require.Zero(t, br.Buffered())
}

// noHijack is a middleware's ResponseWriter that cannot be hijacked.
type noHijack struct{ http.ResponseWriter }

// TestUpgradeThroughWriterWithoutHijack: mounted behind a ResponseWriter
// that cannot be hijacked, the hub refuses the upgrade cleanly (501, no
// 101 first) and counts no connection.
func TestUpgradeThroughWriterWithoutHijack(t *testing.T) {
	hub, err := realtime.New(realtime.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { hub.Close() })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.ServeHTTP(noHijack{w}, r)
	}))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotImplemented, resp.StatusCode)
	require.Equal(t, 0, hub.Stats().Connections)
}

// panickyTransport panics in Write once armed (a nil armed never is),
// and in Ping if pings panic: a Transport with a bug.
type panickyTransport struct {
	*chanTransport
	armed chan struct{}
	pings bool
}

func (t *panickyTransport) Ping(ctx context.Context) error {
	if t.pings {
		panic("transport bug in Ping")
	}
	return t.chanTransport.Ping(ctx)
}

func (t *panickyTransport) Write(ctx context.Context, frames []realtime.Frame) error {
	select {
	case <-t.armed:
		panic("transport bug")
	default:
		return t.chanTransport.Write(ctx, frames)
	}
}

// TestWriterPanicEndsTheConnectionOnly: a Transport whose Write panics
// ends its own connection, as a panicking hook would, and the hub goes on
// serving the others: the process does not crash.
func TestWriterPanicEndsTheConnectionOnly(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice := env.dial("alice")
	room := alice.createRoom("panics", nil)

	tr := &panickyTransport{chanTransport: newChanTransport(), armed: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		env.hub.ServeTransport(tr, httptest.NewRequest("GET", "/x", nil), env.token("bob"))
	}()
	require.Equal(t, "connected", tr.next(t, func(written) bool { return true }).event)
	tr.send("join-room", map[string]string{"roomId": room.ID}, 1)
	require.Equal(t, realtime.FrameReply, tr.next(t, func(w written) bool { return w.ack == 1 }).kind)

	close(tr.armed) // bob's next write panics
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "to a broken transport"})
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection whose writer panicked was not ended")
	}

	// Alice's connection and the hub carry on.
	require.Equal(t, "to a broken transport", testenv.DecodeInto[realtime.Message](t, alice.next("new-message")).Content)
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "still here"})
	require.Equal(t, "still here", testenv.DecodeInto[realtime.Message](t, alice.next("new-message")).Content)
}

// TestPingPanicEndsTheConnectionOnly: the same for a Transport whose Ping
// panics, on the goroutine that pings.
func TestPingPanicEndsTheConnectionOnly(t *testing.T) {
	env := newTestHub(t, realtime.Config{HeartbeatInterval: 50 * time.Millisecond})
	alice := env.dial("alice")
	tr := &panickyTransport{chanTransport: newChanTransport(), pings: true}
	served := make(chan struct{})
	go func() {
		defer close(served)
		env.hub.ServeTransport(tr, httptest.NewRequest("GET", "/x", nil), env.token("bob"))
	}()
	require.Equal(t, "connected", tr.next(t, func(written) bool { return true }).event)
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection whose Ping panicked was not ended")
	}
	room := alice.createRoom("after a panic", nil)
	require.Equal(t, "after a panic", room.Name)
}
