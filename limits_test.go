package realtime_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/wire"
)

// dialRaw opens a native connection with header and returns it, or the
// HTTP status and error body of a refused upgrade.
func dialRaw(t *testing.T, url string, header http.Header) (*websocket.Conn, int, realtime.Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header, Subprotocols: []string{wire.Subprotocol}})
	if err == nil {
		t.Cleanup(func() { ws.CloseNow() })
		return ws, http.StatusSwitchingProtocols, realtime.Error{}
	}
	require.NotNil(t, resp, "%v", err)
	var body struct{ Error realtime.Error }
	b, _ := io.ReadAll(resp.Body)
	require.NoError(t, json.Unmarshal(b, &body), "%s", b)
	return nil, resp.StatusCode, body.Error
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// TestConnectionsPerUser: a user's connections beyond the limit are
// refused with 429 before the upgrade; closing one makes room again.
func TestConnectionsPerUser(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxConnectionsPerUser: 2})
	first, code, _ := dialRaw(t, env.url, bearer(env.token("alice")))
	require.Equal(t, http.StatusSwitchingProtocols, code)
	_, code, _ = dialRaw(t, env.url, bearer(env.token("alice")))
	require.Equal(t, http.StatusSwitchingProtocols, code)
	_, code, e := dialRaw(t, env.url, bearer(env.token("alice")))
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Equal(t, realtime.CodeRateLimited, e.Code)
	require.Contains(t, e.Message, "this user")
	_, code, _ = dialRaw(t, env.url, bearer(env.token("bob")))
	require.Equal(t, http.StatusSwitchingProtocols, code, "another user is not affected")

	require.NoError(t, first.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool {
		ws, code, _ := dialRaw(t, env.url, bearer(env.token("alice")))
		if ws != nil {
			ws.CloseNow()
		}
		return code == http.StatusSwitchingProtocols
	}, 5*time.Second, 20*time.Millisecond, "a closed connection frees its place")
}

// TestConnectionsPerUserAfterAuthEvent: a connection that authenticates
// with an auth event as a user at the limit is closed with 4008.
func TestConnectionsPerUserAfterAuthEvent(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxConnectionsPerUser: 1})
	env.raw("alice")
	ws, code, _ := dialRaw(t, env.url, nil)
	require.Equal(t, http.StatusSwitchingProtocols, code)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(`{"event":"auth","data":{"token":"`+env.token("alice")+`"},"ack":1}`)))
	require.Equal(t, websocket.StatusCode(realtime.StatusRateLimited), closeStatus(t, ws))
}

// TestConnectionsPerAddress: with a limit per address, connections from
// one address beyond it are refused with 429, whoever the users are.
func TestConnectionsPerAddress(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxConnectionsPerAddress: 3})
	for _, u := range []string{"a", "b", "c"} {
		_, code, _ := dialRaw(t, env.url, bearer(env.token(u)))
		require.Equal(t, http.StatusSwitchingProtocols, code)
	}
	_, code, e := dialRaw(t, env.url, bearer(env.token("d")))
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Contains(t, e.Message, "this address")
}

// TestPendingConnections: connections that have not authenticated yet are
// bounded; one that authenticates makes room for another.
func TestPendingConnections(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxPendingConnections: 2})
	a, code, _ := dialRaw(t, env.url, nil)
	require.Equal(t, http.StatusSwitchingProtocols, code)
	_, code, _ = dialRaw(t, env.url, nil)
	require.Equal(t, http.StatusSwitchingProtocols, code)
	_, code, e := dialRaw(t, env.url, nil)
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Contains(t, e.Message, "waiting to authenticate")
	_, code, _ = dialRaw(t, env.url, bearer(env.token("carol")))
	require.Equal(t, http.StatusSwitchingProtocols, code, "a connection with a token is not pending")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.Write(ctx, websocket.MessageText, []byte(`{"event":"auth","data":{"token":"`+env.token("alice")+`"},"ack":1}`)))
	for acked := false; !acked; {
		_, frame, err := a.Read(ctx)
		require.NoError(t, err)
		require.NoError(t, wire.DecodeServer(frame, func(f wire.ServerFrame) {
			if f.Ack == 1 {
				require.Nil(t, f.Error)
				acked = true
			}
		}))
	}
	// The ack goes out as the connection leaves the pending count: a dial
	// right after it may still find two pending.
	require.Eventually(t, func() bool {
		ws, code, _ := dialRaw(t, env.url, nil)
		if ws != nil {
			ws.CloseNow()
		}
		return code == http.StatusSwitchingProtocols
	}, 10*time.Second, 5*time.Millisecond, "an authenticated connection is no longer pending")
}
