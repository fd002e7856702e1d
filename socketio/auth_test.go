package socketio_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/socketio"
	"github.com/realtime-go/realtime/socketio/internal/sio"
)

type connectError struct {
	Message string
	Data    struct {
		Code      realtime.Code
		CloseCode int
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, realtime.Config{AuthTimeout: 200 * time.Millisecond}, socketio.Options{})
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				o    dialOpts
			}{
				{"auth payload", dialOpts{auth: json.RawMessage(`{"token":"` + e.token("alice") + `"}`)}},
				{"header", dialOpts{header: http.Header{"Authorization": {"Bearer " + e.token("alice")}}}},
				{"query", dialOpts{query: []string{"token=" + e.token("alice")}}},
				{"auth payload over header", dialOpts{
					auth:   json.RawMessage(`{"token":"` + e.token("alice") + `"}`),
					header: http.Header{"Authorization": {"Bearer " + e.token("mallory")}},
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					tc.o.transport = transport
					c := e.dialSIO(tc.o)
					connected := testenv.DecodeInto[struct {
						ConnectionID string
						User         realtime.UserRef
					}](t, c.next("connected"))
					require.Equal(t, realtime.UserRef{ID: "alice", Username: "Alice"}, connected.User)
					c.emit("list-rooms", nil)
				})
			}
			t.Run("refused", func(t *testing.T) {
				c, refused := e.trySIO(dialOpts{transport: transport, auth: json.RawMessage(`{"token":"forged"}`)})
				require.NotNil(t, refused)
				ce := testenv.DecodeInto[connectError](t, refused)
				require.Equal(t, "unauthorized", ce.Message)
				require.Equal(t, realtime.CodeUnauthorized, ce.Data.Code)
				require.Equal(t, 4001, ce.Data.CloseCode)
				// The session stays: the client may CONNECT again.
				c.send(sio.Packet{Type: sio.TypeConnect, Namespace: "/", ID: -1, Data: json.RawMessage(`{"token":"` + e.token("alice") + `"}`)})
				require.Equal(t, sio.TypeConnect, c.nextControl().Type)
				c.next("connected")
			})
			t.Run("auth event", func(t *testing.T) {
				// Without a token the CONNECT is answered at once and the
				// Hub waits for an auth event, as on the native protocol.
				c := e.dialSIO(dialOpts{transport: transport})
				c.emitErr(realtime.CodeUnauthorized, "list-rooms", nil)
				c.emit("auth", map[string]string{"token": e.token("bob")})
				require.Equal(t, "bob", testenv.DecodeInto[struct{ User realtime.UserRef }](t, c.next("connected")).User.ID)
				c.emit("list-rooms", nil)
			})
			t.Run("auth timeout", func(t *testing.T) {
				c := e.dialSIO(dialOpts{transport: transport})
				ev := testenv.DecodeInto[struct {
					Code      realtime.Code
					Message   string
					CloseCode int
				}](t, c.next("error"))
				require.Equal(t, realtime.CodeUnauthorized, ev.Code)
				require.Equal(t, 4001, ev.CloseCode)
				require.Equal(t, sio.TypeDisconnect, c.nextControl().Type)
			})
		})
	}
}

func TestOnConnectRefusal(t *testing.T) {
	e := newEnv(t, realtime.Config{OnConnect: func(ctx context.Context, ev realtime.ConnectEvent) error {
		if ev.User.ID == "banned" {
			return &realtime.CloseError{Code: realtime.StatusForbidden, Reason: "banned"}
		}
		if ev.Request.URL.Query().Get("EIO") != "4" {
			return errors.New("the hook sees the handshake request")
		}
		return nil
	}}, socketio.Options{})
	_, refused := e.trySIO(dialOpts{auth: json.RawMessage(`{"token":"` + e.token("banned") + `"}`)})
	ce := testenv.DecodeInto[connectError](t, refused)
	require.Equal(t, "banned", ce.Message)
	require.Equal(t, realtime.CodeForbidden, ce.Data.Code)
	require.Equal(t, 4003, ce.Data.CloseCode)
	e.sio("alice", "polling").emit("list-rooms", nil)
}

func TestDevelopmentMode(t *testing.T) {
	// Without an Authenticator every connection gets an anonymous user,
	// named by the handshake's username query parameter.
	e := serveEnv(t, realtime.Config{}, socketio.Options{})
	c := e.dialSIO(dialOpts{transport: "polling", query: []string{"username=zoe"}})
	u := testenv.DecodeInto[struct{ User realtime.UserRef }](t, c.next("connected")).User
	require.Equal(t, "zoe", u.Username)
	require.Contains(t, u.ID, "anon_")
}

func TestNamespaces(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			c, refused := e.trySIO(dialOpts{transport: transport, nsp: "/admin", auth: json.RawMessage(`{"token":"` + e.token("alice") + `"}`)})
			require.JSONEq(t, `{"message":"Invalid namespace"}`, string(refused))
			// The main namespace on the same session still works.
			c.opts.nsp = "/"
			c.send(sio.Packet{Type: sio.TypeConnect, Namespace: "/", ID: -1, Data: json.RawMessage(`{"token":"` + e.token("alice") + `"}`)})
			require.Equal(t, sio.TypeConnect, c.nextControl().Type)
			c.next("connected")
			c.emit("list-rooms", nil)
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{ConnectTimeout: 100 * time.Millisecond})
	c := e.open(dialOpts{})
	c.waitClosed(5 * time.Second)

	// Leaving the last namespace starts it again.
	c = e.sio("alice", "websocket")
	c.send(sio.Packet{Type: sio.TypeDisconnect, Namespace: "/", ID: -1})
	eventually(t, func() bool { return e.hub.Stats().Connections == 0 }, "hub connection ends with the namespace")
	c.waitClosed(5 * time.Second)
}

// TestConnectionLimits: the hub's limits hold for Socket.IO clients too:
// per address before the Engine.IO handshake (429), per user at CONNECT
// (connect_error rate_limited, close code 4008).
func TestConnectionLimits(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		e := newEnv(t, realtime.Config{MaxConnectionsPerAddress: 1}, socketio.Options{})
		code, _, _ := httpDo(t, http.MethodGet, e.eioURL("polling"), "", nil)
		require.Equal(t, http.StatusOK, code)
		code, _, body := httpDo(t, http.MethodGet, e.eioURL("polling"), "", nil)
		require.Equal(t, http.StatusTooManyRequests, code)
		require.Contains(t, body, "too many connections from this address")
	})
	t.Run("per user", func(t *testing.T) {
		e := newEnv(t, realtime.Config{MaxConnectionsPerUser: 1}, socketio.Options{})
		for _, transport := range []string{"polling", "websocket"} {
			first := e.dialSIO(dialOpts{transport: transport, auth: json.RawMessage(`{"token":"` + e.token("alice") + `"}`)})
			first.next("connected")
			_, refused := e.trySIO(dialOpts{transport: transport, auth: json.RawMessage(`{"token":"` + e.token("alice") + `"}`)})
			require.NotNil(t, refused, transport)
			ce := testenv.DecodeInto[connectError](t, refused)
			require.Equal(t, realtime.CodeRateLimited, ce.Data.Code)
			require.Equal(t, int(realtime.StatusRateLimited), ce.Data.CloseCode)
			first.send(sio.Packet{Type: sio.TypeDisconnect, Namespace: "/", ID: -1})
			eventually(t, func() bool { return e.hub.UserConnections("alice") == 0 }, "the first connection ends")
			first.close()
		}
	})
}
