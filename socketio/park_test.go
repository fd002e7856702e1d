package socketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/socketio"
	"github.com/realtime-go/realtime/socketio/internal/eio"
	"github.com/realtime-go/realtime/socketio/internal/sio"
)

// hubReaders counts the goroutines that serve a connection for the hub
// (Hub.run): one per native connection, and none for an idle Socket.IO
// connection, whose session's reader wakes the hub when an event comes.
func hubReaders() int {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "realtime.(*Hub).run(")
}

// TestIdleConnectionsPark: the hub keeps no goroutine waiting for an idle
// Socket.IO connection (over WebSocket, long-polling, or one that
// authenticated with an auth event); each event wakes it, a burst keeps
// its order, and a parked connection still ends as any other: the client
// leaving, the hub closing it, the hub shutting down.
func TestIdleConnectionsPark(t *testing.T) {
	ended := make(chan realtime.DisconnectEvent, 16)
	e := newEnv(t, realtime.Config{
		MaxEventsPerSecond: -1,
		OnDisconnect:       func(_ context.Context, ev realtime.DisconnectEvent) { ended <- ev },
	}, socketio.Options{})
	nat := e.native("nora")
	room := testenv.DecodeInto[struct{ Room realtime.Room }](t, nat.emit("create-room", map[string]any{"name": "park"})).Room

	ws, pl := e.sio("wes", "websocket"), e.sio("pat", "polling")
	late := e.dialSIO(dialOpts{}) // no token: authenticates with an event
	late.emit("auth", map[string]string{"token": e.token("ada")})
	late.next("connected")
	clients := []*sclient{ws, pl, late}
	for _, c := range clients {
		c.emit("join-room", map[string]string{"roomId": room.ID})
	}
	idle := func(why string) {
		t.Helper()
		eventually(t, func() bool { return hubReaders() == 1 }, why+": only the native connection has a hub goroutine")
	}
	idle("connected")

	// A burst without acks, from each: every message arrives, in order.
	const burst = 50
	for _, c := range clients {
		for i := range burst {
			c.emitNoAck("message", map[string]any{"roomId": room.ID, "content": fmt.Sprintf(`%s "%d" é🙂`, c.opts.transport, i)})
		}
	}
	next := map[string]int{}
	for range burst * len(clients) {
		var m realtime.Message
		require.NoError(t, json.Unmarshal(nat.next("new-message"), &m))
		var who string
		var i int
		_, err := fmt.Sscanf(strings.ReplaceAll(m.Content, `"`, ""), "%s %d", &who, &i)
		require.NoError(t, err, m.Content)
		require.Equal(t, next[m.SenderID], i, "from %s: in order", m.SenderID)
		next[m.SenderID]++
	}
	require.Len(t, next, len(clients))
	idle("after the burst")

	// Ended while parked: by the client, then by the hub.
	ws.close()
	ev := waitEnded(t, ended)
	require.Equal(t, "wes", ev.User.ID)
	require.NoError(t, e.hub.Disconnect(t.Context(), "pat", 4000, "bye"))
	ev = waitEnded(t, ended)
	require.Equal(t, "pat", ev.User.ID)
	require.Equal(t, realtime.StatusCode(4000), ev.Code)
	pl.waitClosed(5 * time.Second)

	// Shut down with a parked connection: it is closed, and Shutdown
	// waits for it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.srv.Shutdown(ctx))
	require.Equal(t, "ada", waitEnded(t, ended).User.ID)
	late.waitClosed(5 * time.Second)
	require.Equal(t, 1, e.hub.Stats().Connections, "the native one is left")
}

func waitEnded(t *testing.T, ended <-chan realtime.DisconnectEvent) realtime.DisconnectEvent {
	t.Helper()
	select {
	case ev := <-ended:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no OnDisconnect within 10s")
	}
	return realtime.DisconnectEvent{}
}

// TestParkedPanicAndHubClose: a panic in a hook on a woken connection ends
// it with 1011, one while connecting refuses it; and Hub.Close and
// Hub.Shutdown end parked connections (OnDisconnect for each), after which
// the Server shuts down without waiting for any.
func TestParkedPanicAndHubClose(t *testing.T) {
	for _, mode := range []string{"close", "shutdown"} {
		t.Run(mode, func(t *testing.T) {
			ended := make(chan realtime.DisconnectEvent, 16)
			e := newEnv(t, realtime.Config{
				MaxEventsPerSecond: -1,
				OnConnect: func(_ context.Context, ev realtime.ConnectEvent) error {
					if ev.User.ID == "boom" {
						panic("connect boom")
					}
					return nil
				},
				AuthorizeJoin: func(_ context.Context, ev realtime.JoinEvent) error {
					if ev.User.ID == "pan" {
						panic("join boom")
					}
					return nil
				},
				OnDisconnect: func(_ context.Context, ev realtime.DisconnectEvent) { ended <- ev },
			}, socketio.Options{})
			owner := e.sio("own", "websocket")
			room := testenv.DecodeInto[struct{ Room realtime.Room }](t, owner.emit("create-room", map[string]any{"name": "r"})).Room
			for _, transport := range []string{"websocket", "polling"} {
				p := e.sio("pan", transport)
				// The join ends the session (1011): over polling, its POST may
				// be answered 400 once the session has closed, so its error
				// is not the test's.
				_ = p.write(string(sio.Packet{Type: sio.TypeEvent, Namespace: "/", ID: -1,
					Args: []json.RawMessage{mustJSON(t, "join-room"), mustJSON(t, map[string]string{"roomId": room.ID})}}.Append([]byte{eio.TypeMessage})))
				ev := waitEnded(t, ended)
				require.Equal(t, "pan", ev.User.ID)
				require.Equal(t, realtime.StatusInternal, ev.Code)
				_, refused := e.trySIO(dialOpts{transport: transport, auth: json.RawMessage(`{"token":"` + e.token("boom") + `"}`)})
				require.NotNil(t, refused)
			}
			e.sio("wes", "websocket")
			e.sio("pat", "polling")
			eventually(t, func() bool { return hubReaders() == 0 }, "all parked")
			if mode == "close" {
				closed := make(chan error)
				go func() { closed <- e.hub.Close() }()
				select {
				case err := <-closed:
					require.NoError(t, err)
				case <-time.After(10 * time.Second):
					t.Fatal("Hub.Close waits for parked connections")
				}
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				require.NoError(t, e.hub.Shutdown(ctx))
			}
			got := map[string]bool{}
			for range 3 {
				got[waitEnded(t, ended).User.ID] = true
			}
			require.Equal(t, map[string]bool{"own": true, "wes": true, "pat": true}, got)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, e.srv.Shutdown(ctx))
		})
	}
}
