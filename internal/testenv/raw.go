package testenv

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/internal/wire"
)

// Raw is a bare WebSocket to a hub speaking realtime.v1, for frames the Go
// client would never send and for reading exactly what the server wrote.
type Raw struct {
	t       testing.TB
	WS      *websocket.Conn
	pending []wire.ServerFrame
}

// DialRaw opens a bare connection to url with header (an Authorization
// header, say) and consumes its connected event. The test closes it. Its
// socket buffers RawReadBuffer bytes, so that what a raw connection that
// stops reading leaves unread reaches the hub's send queue, however much
// the kernel would otherwise buffer (tcp_rmem allows 32 MB on some
// machines).
func DialRaw(t testing.TB, url string, header http.Header) *Raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient: rawClient, HTTPHeader: header, Subprotocols: []string{wire.Subprotocol},
	})
	require.NoError(t, err)
	ws.SetReadLimit(-1)
	t.Cleanup(func() { ws.CloseNow() })
	r := &Raw{t: t, WS: ws}
	require.Equal(t, "connected", r.Read().Event)
	return r
}

// RawReadBuffer is the receive buffer of DialRaw's sockets.
const RawReadBuffer = 256 << 10

// rawClient dials DialRaw's connections.
var rawClient = &http.Client{Transport: &http.Transport{
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := new(net.Dialer).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			if err := tc.SetReadBuffer(RawReadBuffer); err != nil {
				c.Close()
				return nil, err
			}
		}
		return c, nil
	},
}}

// NewRaw reads and writes frames on ws, a connection already open (one
// that has not authenticated yet, say).
func NewRaw(t testing.TB, ws *websocket.Conn) *Raw { return &Raw{t: t, WS: ws} }

// Write sends one text frame.
func (r *Raw) Write(frame string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(r.t, r.WS.Write(ctx, websocket.MessageText, []byte(frame)))
}

// Read returns the next server object, splitting batched frames.
func (r *Raw) Read() wire.ServerFrame {
	r.t.Helper()
	for len(r.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, frame, err := r.WS.Read(ctx)
		cancel()
		require.NoError(r.t, err)
		require.NoError(r.t, wire.DecodeServer(frame, func(f wire.ServerFrame) { r.pending = append(r.pending, f) }))
	}
	f := r.pending[0]
	r.pending = r.pending[1:]
	return f
}

// CloseStatus reads ws until the connection closes and returns its close
// code.
func CloseStatus(t testing.TB, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	// A bound, not an expectation: a connection that stopped reading may
	// have megabytes buffered before its close.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return websocket.CloseStatus(ReadUntilError(ctx, ws))
}

// ReadUntilError reads ws until a read fails and returns that error.
func ReadUntilError(ctx context.Context, ws *websocket.Conn) error {
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			return err
		}
	}
}
